// Row primitives over one contiguous row: the max and the exp-sum behind softmax,
// cross-entropy's log-sum-exp and attention's online softmax.
#pragma once
#include "common.h"

namespace qkv {
namespace QKV_NS {
namespace {

// max over a contiguous row, NaN if any element is NaN.
float row_max(const float* x, int64_t n) {
  int64_t i = 0;
  vf m = vset1(-INFINITY);
  vm nan = vunord(m, m);
  for (; i + W <= n; i += W) {
    vf v = vload(x + i);
    nan = vmor(nan, vunord(v, v));
    m = vmax(v, m);
  }
  if (vany(nan)) return NAN;
  float r = vhmax(m);
  for (; i < n; i++) {
    if (x[i] != x[i]) return NAN;
    if (x[i] > r) r = x[i];
  }
  return r;
}

// y = exp(x − m), returns Σ y (y may alias nothing; y == nullptr only sums).
float row_exp_sum(const float* x, int64_t n, float m, float* y) {
  int64_t i = 0;
  const vf vm_ = vset1(m);
  vf s0 = vzero(), s1 = vzero();
  for (; i + 2 * W <= n; i += 2 * W) {
    vf e0 = vexp(vsub(vload(x + i), vm_)), e1 = vexp(vsub(vload(x + i + W), vm_));
    if (y) { vstore(y + i, e0); vstore(y + i + W, e1); }
    s0 = vadd(s0, e0);
    s1 = vadd(s1, e1);
  }
  for (; i + W <= n; i += W) {
    vf e = vexp(vsub(vload(x + i), vm_));
    if (y) vstore(y + i, e);
    s0 = vadd(s0, e);
  }
  float s = vhsum(vadd(s0, s1));
  for (; i < n; i++) {
    float e = expf(x[i] - m);
    if (y) y[i] = e;
    s += e;
  }
  return s;
}

}  // namespace
}  // namespace QKV_NS
}  // namespace qkv
