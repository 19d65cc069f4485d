// The kernels for x86-64 CPUs with AVX2 and FMA. Every function in this file is compiled with
// the target attribute "avx2,fma" (the pragma below); addon.cc calls them only after
// __builtin_cpu_supports has confirmed both features. System headers come first, outside the
// pragma, so no inline library code is compiled for AVX2.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <immintrin.h>
#include "qkv.h"

#if defined(__x86_64__) || defined(__i386__)
#pragma GCC target("avx2,fma")
#define QKV_ISA_AVX2
#define QKV_NS isa_avx2
#include "kernels/table.inc"
#pragma GCC reset_options

const qkv::Kernels* qkv::kernels_avx2() { return &qkv::isa_avx2::TABLE; }
#else
const qkv::Kernels* qkv::kernels_avx2() { return nullptr; }
#endif
