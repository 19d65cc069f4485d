// The SIMD mapping layer: the only place that names an instruction set.
//
// Every kernel in kernels/ is written against the small vocabulary below (a float vector
// `vf` of W lanes, a mask `vm`, a double accumulator `vd`, and inline functions on them). A
// translation unit selects one implementation by defining exactly one of
//
//   QKV_ISA_AVX2    x86-64 AVX2 + FMA, 8 lanes (the TU is compiled with #pragma GCC target)
//   QKV_ISA_SCALAR  portable C++, 1 lane (the run-time fallback on CPUs without AVX2/FMA)
//
// before including this header. A WebAssembly simd128 port adds a QKV_ISA_WASM128 block with
// the same names (4 lanes, wasm_f32x4_*), and the kernels compile unchanged.
//
// Semantics every implementation must keep (kernels rely on them):
//   vmax(a, b) = a > b ? a : b   (so it returns b when either is NaN; vmax(0, x) keeps NaN x)
//   vmin(a, b) = a < b ? a : b
//   vexp(x): exp with ≤ 2 ulp error on [-87.3, 88.7]; 0 below (no denormals), +inf above,
//            NaN for NaN; exp(-inf) = 0 exactly (masked softmax entries are exact zeros).
//   vselect(m, a, b) = m ? a : b lane by lane.
//   vfma(a, b, c) = a·b + c (fused where the hardware has it).
//   vtranspose(r): r[0..W) is a W×W block, transposed in place; vload_n / vstore_n move the
//   first n ≤ W lanes and never touch memory beyond them.
#pragma once
#include <stdint.h>
#include <string.h>
#include <math.h>

#if defined(QKV_ISA_AVX2)
#include <immintrin.h>

#define QKV_AI inline __attribute__((always_inline))
#define QKV_INLINE static QKV_AI
#define QKV_ISA_NAME "avx2"
// GEMM tiling: a 6×16 micro-tile (12 ymm accumulators), KC×NR B slivers (16 KB) in L1,
// MC×KC A blocks (144 KB) in L2, KC×NC B panels in L3.
#define QKV_GEMM_MR 6
#define QKV_GEMM_NR 16
#define QKV_GEMM_KC 256
#define QKV_GEMM_MC 144
#define QKV_GEMM_NC 2048

constexpr int W = 8;
typedef __m256 vf;
typedef __m256 vm;
struct vd { __m256d lo, hi; };

QKV_INLINE vf vload(const float* p) { return _mm256_loadu_ps(p); }
QKV_INLINE void vstore(float* p, vf x) { _mm256_storeu_ps(p, x); }
QKV_INLINE vf vset1(float x) { return _mm256_set1_ps(x); }
QKV_INLINE vf vzero() { return _mm256_setzero_ps(); }
QKV_INLINE vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
QKV_INLINE vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
QKV_INLINE vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
QKV_INLINE vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
QKV_INLINE vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
QKV_INLINE vf vfnma(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }  // c − a·b
QKV_INLINE vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
QKV_INLINE vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
QKV_INLINE vf vsqrt(vf a) { return _mm256_sqrt_ps(a); }
QKV_INLINE vf vabs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
QKV_INLINE vf vneg(vf a) { return _mm256_xor_ps(_mm256_set1_ps(-0.0f), a); }
QKV_INLINE vm vgt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
QKV_INLINE vm vge(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
QKV_INLINE vm vlt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
QKV_INLINE vm vle(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
QKV_INLINE vm veq(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
QKV_INLINE vm vne(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); }
QKV_INLINE vm vunord(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_UNORD_Q); }
QKV_INLINE vm vmor(vm a, vm b) { return _mm256_or_ps(a, b); }
QKV_INLINE vm vmand(vm a, vm b) { return _mm256_and_ps(a, b); }
QKV_INLINE vf vselect(vm m, vf a, vf b) { return _mm256_blendv_ps(b, a, m); }
QKV_INLINE bool vany(vm m) { return _mm256_movemask_ps(m) != 0; }
// NaN in the lanes of m, x elsewhere (all-ones bits are a quiet NaN).
QKV_INLINE vf vnan_where(vm m, vf x) { return _mm256_or_ps(x, m); }
QKV_INLINE float vhsum(vf x) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
QKV_INLINE float vhmax(vf x) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// Float64 accumulation of float lanes (sums follow the reference backend's float64 rule).
QKV_INLINE vd vdzero() { return vd{_mm256_setzero_pd(), _mm256_setzero_pd()}; }
QKV_INLINE vd vdadd(vd a, vf x) {
  return vd{_mm256_add_pd(a.lo, _mm256_cvtps_pd(_mm256_castps256_ps128(x))),
            _mm256_add_pd(a.hi, _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)))};
}
QKV_INLINE double vdhsum(vd a) {
  __m256d s = _mm256_add_pd(a.lo, a.hi);
  __m128d t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
  return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
}
// Store W doubles (as float) from a vd into p (for column accumulators).
QKV_INLINE void vdload(const double* p, vd& a) { a.lo = _mm256_loadu_pd(p); a.hi = _mm256_loadu_pd(p + 4); }
QKV_INLINE void vdstore(double* p, vd a) { _mm256_storeu_pd(p, a.lo); _mm256_storeu_pd(p + 4, a.hi); }
// 2^n for integer-valued float n in [-126, 127].
QKV_INLINE vf vpow2i(vf n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}
QKV_INLINE vf vround(vf x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
QKV_INLINE void vprefetch(const void* p) { _mm_prefetch((const char*)p, _MM_HINT_T0); }
// Stores the first n (0 ≤ n ≤ W) lanes; loads the first n lanes (the rest 0) without
// touching memory past p + n.
// (Plain 4/2/1-float stores: vmaskmovps stores are microcoded and slow on AMD Zen.)
QKV_INLINE void vstore_n(float* p, vf x, int n) {
  if (n >= 8) { _mm256_storeu_ps(p, x); return; }
  __m128 v = _mm256_castps256_ps128(x);
  if (n >= 4) { _mm_storeu_ps(p, v); v = _mm256_extractf128_ps(x, 1); p += 4; n -= 4; }
  if (n >= 2) { _mm_storel_pi((__m64*)p, v); v = _mm_movehl_ps(v, v); p += 2; n -= 2; }
  if (n >= 1) _mm_store_ss(p, v);
}
QKV_INLINE vf vload_n(const float* p, int n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx));
}
// Transposes the W×W block held in r[0..W) (r[i] lane j ← r[j] lane i).
QKV_INLINE void vtranspose(vf* r) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

#elif defined(QKV_ISA_SCALAR)

#define QKV_AI inline __attribute__((always_inline))
#define QKV_INLINE static QKV_AI
#define QKV_ISA_NAME "scalar"
#define QKV_GEMM_MR 4
#define QKV_GEMM_NR 4
#define QKV_GEMM_KC 256
#define QKV_GEMM_MC 64
#define QKV_GEMM_NC 1024

constexpr int W = 1;
typedef float vf;
typedef bool vm;
typedef double vd;

QKV_INLINE vf vload(const float* p) { return *p; }
QKV_INLINE void vstore(float* p, vf x) { *p = x; }
QKV_INLINE vf vset1(float x) { return x; }
QKV_INLINE vf vzero() { return 0.0f; }
QKV_INLINE vf vadd(vf a, vf b) { return a + b; }
QKV_INLINE vf vsub(vf a, vf b) { return a - b; }
QKV_INLINE vf vmul(vf a, vf b) { return a * b; }
QKV_INLINE vf vdiv(vf a, vf b) { return a / b; }
QKV_INLINE vf vfma(vf a, vf b, vf c) { return fmaf(a, b, c); }
QKV_INLINE vf vfnma(vf a, vf b, vf c) { return fmaf(-a, b, c); }
QKV_INLINE vf vmax(vf a, vf b) { return a > b ? a : b; }
QKV_INLINE vf vmin(vf a, vf b) { return a < b ? a : b; }
QKV_INLINE vf vsqrt(vf a) { return sqrtf(a); }
QKV_INLINE vf vabs(vf a) { return fabsf(a); }
QKV_INLINE vf vneg(vf a) { return -a; }
QKV_INLINE vm vgt(vf a, vf b) { return a > b; }
QKV_INLINE vm vge(vf a, vf b) { return a >= b; }
QKV_INLINE vm vlt(vf a, vf b) { return a < b; }
QKV_INLINE vm vle(vf a, vf b) { return a <= b; }
QKV_INLINE vm veq(vf a, vf b) { return a == b; }
QKV_INLINE vm vne(vf a, vf b) { return a != b; }
QKV_INLINE vm vunord(vf a, vf b) { return a != a || b != b; }
QKV_INLINE vm vmor(vm a, vm b) { return a || b; }
QKV_INLINE vm vmand(vm a, vm b) { return a && b; }
QKV_INLINE vf vselect(vm m, vf a, vf b) { return m ? a : b; }
QKV_INLINE bool vany(vm m) { return m; }
QKV_INLINE vf vnan_where(vm m, vf x) { return m ? NAN : x; }
QKV_INLINE float vhsum(vf x) { return x; }
QKV_INLINE float vhmax(vf x) { return x; }
QKV_INLINE vd vdzero() { return 0.0; }
QKV_INLINE vd vdadd(vd a, vf x) { return a + (double)x; }
QKV_INLINE double vdhsum(vd a) { return a; }
QKV_INLINE void vdload(const double* p, vd& a) { a = *p; }
QKV_INLINE void vdstore(double* p, vd a) { *p = a; }
QKV_INLINE vf vpow2i(vf n) {
  int32_t bits = ((int32_t)n + 127) << 23;
  float r;
  memcpy(&r, &bits, 4);
  return r;
}
QKV_INLINE vf vround(vf x) { return nearbyintf(x); }
QKV_INLINE void vprefetch(const void*) {}
QKV_INLINE void vstore_n(float* p, vf x, int n) { if (n > 0) *p = x; }
QKV_INLINE vf vload_n(const float* p, int n) { return n > 0 ? *p : 0.0f; }
QKV_INLINE void vtranspose(vf*) {}

#else
#error "simd.h: define QKV_ISA_AVX2 or QKV_ISA_SCALAR before including it"
#endif

// ------------------------------------------------------------------------------------------
// Math built on the vocabulary above (identical for every instruction set).

// exp(x): range reduction x = n·ln2 + r, |r| ≤ ln2/2, then a degree-6 polynomial for e^r
// (Cephes' single-precision coefficients) and a multiplication by 2^n built in the exponent.
QKV_INLINE vf vexp(vf x) {
  const vf hi = vset1(88.7228391f), lo = vset1(-87.3365479f);
  vm nan = vunord(x, x);
  vm over = vgt(x, hi), under = vlt(x, lo);
  vf xc = vmin(vmax(x, lo), hi);
  vf n = vround(vmul(xc, vset1(1.44269504088896341f)));
  vf r = vfnma(n, vset1(0.693359375f), xc);
  r = vfnma(n, vset1(-2.12194440e-4f), r);
  // Horner's scheme. (Estrin's is ~10% faster in exp-heavy loops but rounds differently; the
  // lab's training experiments are tuned to these exact results, so the order stays.)
  vf p = vset1(1.9875691500e-4f);
  p = vfma(p, r, vset1(1.3981999507e-3f));
  p = vfma(p, r, vset1(8.3334519073e-3f));
  p = vfma(p, r, vset1(4.1665795894e-2f));
  p = vfma(p, r, vset1(1.6666665459e-1f));
  p = vfma(p, r, vset1(5.0000001201e-1f));
  p = vfma(p, vmul(r, r), vadd(r, vset1(1.0f)));
  // n can reach 128 at the top of the range: split 2^n = 2^(n−1)·2.
  vf y = vmul(vmul(p, vpow2i(vsub(n, vset1(1.0f)))), vset1(2.0f));
  y = vselect(over, vset1(INFINITY), y);
  y = vselect(under, vzero(), y);
  return vnan_where(nan, y);
}

// erfc(z) for z ≥ 0 with relative error < 1.2e-7 everywhere (the Chebyshev fit of Numerical
// Recipes' erfcc): t = 1/(1 + z/2), erfc = t·exp(−z² + P(t)). z is clamped to 10 (erfc is 0 in
// float32 well before that), so z² cannot overflow.
QKV_INLINE vf verfc_pos(vf z) {
  z = vmin(z, vset1(10.0f));
  vf t = vdiv(vset1(1.0f), vfma(z, vset1(0.5f), vset1(1.0f)));
  // P(t) = c0 + c1 t + … + c9 t⁹ by Estrin's scheme: short dependency chains (GELU's loops are
  // latency-bound on CPUs whose FP scheduler holds about one iteration).
  const vf t2 = vmul(t, t), t4 = vmul(t2, t2), t8 = vmul(t4, t4);
  const vf p01 = vfma(vset1(1.00002368f), t, vset1(-1.26551223f));
  const vf p23 = vfma(vset1(0.09678418f), t, vset1(0.37409196f));
  const vf p45 = vfma(vset1(0.27886807f), t, vset1(-0.18628806f));
  const vf p67 = vfma(vset1(1.48851587f), t, vset1(-1.13520398f));
  const vf p89 = vfma(vset1(0.17087277f), t, vset1(-0.82215223f));
  const vf p03 = vfma(p23, t2, p01), p47 = vfma(p67, t2, p45);
  const vf p = vfma(p89, t8, vfma(p47, t4, p03));
  return vmul(t, vexp(vfnma(z, z, p)));
}
