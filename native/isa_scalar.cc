// The portable kernels (one lane per "vector"): the run-time fallback on CPUs without AVX2/FMA,
// and a second implementation the conformance tests check against the TypeScript reference.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "qkv.h"

#define QKV_ISA_SCALAR
#define QKV_NS isa_scalar
#include "kernels/table.inc"

const qkv::Kernels* qkv::kernels_scalar() { return &qkv::isa_scalar::TABLE; }
