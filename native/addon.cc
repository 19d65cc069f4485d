// N-API glue of the native backend (plain Node-API C, no node-addon-api).
//
// The JavaScript side (src/backend/native/) writes every shape, stride, offset and scalar of a
// call into one shared Float64Array (`meta`, registered once with init()) and passes the typed
// arrays themselves as arguments; the kernels work on those arrays' memory in place
// (napi_get_typedarray_info: zero copy). Every operand's reachable range is checked against its
// array's length before a kernel runs, so a wrong view is a JavaScript exception, never a
// stray write.
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <string>
#include <atomic>
#include <thread>
#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include "qkv.h"

using namespace qkv;

namespace {

const Kernels* K = nullptr;  // the active kernel table
bool has_avx2 = false, has_fma = false, has_avx512f = false;
double* META = nullptr;
size_t META_LEN = 0;
napi_ref meta_ref = nullptr;

struct Fail {
  std::string msg;
};

#define CHECK_NAPI(call)                                     \
  do {                                                       \
    if ((call) != napi_ok) throw Fail{"N-API call failed: " #call}; \
  } while (0)

struct Arr {
  void* data = nullptr;
  size_t length = 0;
  napi_typedarray_type type = napi_float32_array;
  bool present = false;
};

const char* type_name(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint8_array: return "Uint8Array";
    default: return "another typed array";
  }
}

struct Call {
  napi_env env;
  const char* op;
  size_t argc = 12;
  napi_value argv[12];
  int64_t mi = 0;  // read position in META

  Call(napi_env e, napi_callback_info info, const char* name) : env(e), op(name) {
    CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    if (!META) throw Fail{std::string(op) + ": native backend used before init()"};
  }

  Arr array(size_t i, const char* what, napi_typedarray_type want, bool nullable = false, napi_typedarray_type alt = napi_float32_array) {
    Arr a;
    if (i >= argc) throw Fail{std::string(op) + ": missing argument " + what};
    napi_valuetype vt;
    CHECK_NAPI(napi_typeof(env, argv[i], &vt));
    if (vt == napi_null || vt == napi_undefined) {
      if (!nullable) throw Fail{std::string(op) + ": " + what + " is required"};
      return a;
    }
    bool is;
    CHECK_NAPI(napi_is_typedarray(env, argv[i], &is));
    if (!is) throw Fail{std::string(op) + ": " + what + " must be a typed array"};
    CHECK_NAPI(napi_get_typedarray_info(env, argv[i], &a.type, &a.length, &a.data, nullptr, nullptr));
    if (a.type != want && a.type != alt) {
      throw Fail{std::string(op) + ": " + what + " must be a " + type_name(want) + ", got " + type_name(a.type)};
    }
    a.present = true;
    return a;
  }

  double number(size_t i, const char* what) {
    if (i >= argc) throw Fail{std::string(op) + ": missing argument " + what};
    double v;
    if (napi_get_value_double(env, argv[i], &v) != napi_ok) throw Fail{std::string(op) + ": " + what + " must be a number"};
    return v;
  }

  int64_t ri() {
    if ((size_t)mi >= META_LEN) throw Fail{std::string(op) + ": metadata overflow"};
    return (int64_t)META[mi++];
  }
  double rd() {
    if ((size_t)mi >= META_LEN) throw Fail{std::string(op) + ": metadata overflow"};
    return META[mi++];
  }
};

int64_t read_dims(Call& c, int64_t* shape, const char* what) {
  int64_t nd = c.ri();
  if (nd < 0 || nd > MAXDIM) throw Fail{std::string(c.op) + ": " + what + " has " + std::to_string(nd) + " dims; the native backend takes at most " + std::to_string(MAXDIM)};
  for (int64_t d = 0; d < nd; d++) {
    shape[d] = c.ri();
    if (shape[d] < 0) throw Fail{std::string(c.op) + ": negative size in " + what};
  }
  return nd;
}

// Checks that every element (offset + Σ i_d·stride_d) lies inside the array.
void check_range(Call& c, const Arr& a, int64_t off, int nd, const int64_t* shape, const int64_t* st, const char* what) {
  int64_t lo = off, hi = off;
  for (int d = 0; d < nd; d++) {
    if (shape[d] == 0) return;  // empty: nothing is touched
    int64_t span = (shape[d] - 1) * st[d];
    if (span > 0) hi += span; else lo += span;
  }
  if (lo < 0 || hi >= (int64_t)a.length) {
    throw Fail{std::string(c.op) + ": " + what + " reaches elements [" + std::to_string(lo) + ", " + std::to_string(hi) +
               "] of an array of length " + std::to_string(a.length)};
  }
}

// Reads one operand's offset and strides, checks its range, returns the base pointer.
template <class T>
T* operand(Call& c, const Arr& a, int nd, const int64_t* shape, int64_t* st, const char* what) {
  int64_t off = c.ri();
  for (int d = 0; d < nd; d++) st[d] = c.ri();
  check_range(c, a, off, nd, shape, st, what);
  return static_cast<T*>(a.data) + off;
}

template <class T>
T* contiguous(Call& c, const Arr& a, int64_t n, const char* what) {
  int64_t off = c.ri();
  if (n > 0 && (off < 0 || off + n > (int64_t)a.length)) {
    throw Fail{std::string(c.op) + ": " + what + " needs " + std::to_string(n) + " elements from offset " + std::to_string(off) +
               " but its array has " + std::to_string(a.length)};
  }
  return static_cast<T*>(a.data) + off;
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

template <class F>
napi_value guarded(napi_env env, const char* op, F&& f) {
  try {
    return f();
  } catch (const Fail& e) {
    napi_throw_error(env, "QKV_NATIVE", e.msg.c_str());
    return nullptr;
  } catch (const std::exception& e) {
    napi_throw_error(env, "QKV_NATIVE", (std::string(op) + ": " + e.what()).c_str());
    return nullptr;
  }
}

#define ENTRY(NAME) napi_value NAME(napi_env env, napi_callback_info info)

ENTRY(Init) {
  return guarded(env, "init", [&]() -> napi_value {
    size_t argc = 1;
    napi_value argv[1];
    CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    napi_typedarray_type t;
    size_t len;
    void* data;
    bool is = false;
    if (argc < 1 || napi_is_typedarray(env, argv[0], &is) != napi_ok || !is) throw Fail{"init: expects a Float64Array"};
    CHECK_NAPI(napi_get_typedarray_info(env, argv[0], &t, &len, &data, nullptr, nullptr));
    if (t != napi_float64_array) throw Fail{"init: expects a Float64Array"};
    if (meta_ref) napi_delete_reference(env, meta_ref);
    CHECK_NAPI(napi_create_reference(env, argv[0], 1, &meta_ref));
    META = static_cast<double*>(data);
    META_LEN = len;
    return undefined(env);
  });
}

ENTRY(Unary) {
  return guarded(env, "unary", [&]() -> napi_value {
    Call c(env, info, "unary");
    int op = (int)c.number(0, "op");
    if (op < 0 || op >= U_COUNT) throw Fail{"unary: unknown op code " + std::to_string(op)};
    Arr x = c.array(1, "x", napi_float32_array), y = c.array(2, "out", napi_float32_array);
    int64_t shape[MAXDIM], xs[MAXDIM], ys[MAXDIM];
    int nd = (int)read_dims(c, shape, "x");
    float* xp = operand<float>(c, x, nd, shape, xs, "x");
    float* yp = operand<float>(c, y, nd, shape, ys, "out");
    K->unary(op, nd, shape, Operand{xp, xs}, Operand{yp, ys});
    return undefined(env);
  });
}

ENTRY(Binary) {
  return guarded(env, "binary", [&]() -> napi_value {
    Call c(env, info, "binary");
    int op = (int)c.number(0, "op");
    if (op < 0 || op >= B_COUNT) throw Fail{"binary: unknown op code " + std::to_string(op)};
    const bool cmp = op >= B_EQ && op <= B_OR;
    Arr a = c.array(1, "a", napi_float32_array), b = c.array(2, "b", napi_float32_array);
    Arr o = c.array(3, "out", cmp ? napi_uint8_array : napi_float32_array);
    int64_t shape[MAXDIM], as[MAXDIM], bs[MAXDIM], os[MAXDIM];
    int nd = (int)read_dims(c, shape, "out");
    float* ap = operand<float>(c, a, nd, shape, as, "a");
    float* bp = operand<float>(c, b, nd, shape, bs, "b");
    void* op_ = cmp ? (void*)operand<uint8_t>(c, o, nd, shape, os, "out") : (void*)operand<float>(c, o, nd, shape, os, "out");
    K->binary(op, nd, shape, Operand{ap, as}, Operand{bp, bs}, Operand{op_, os});
    return undefined(env);
  });
}

ENTRY(Where) {
  return guarded(env, "where", [&]() -> napi_value {
    Call c(env, info, "where");
    Arr cd = c.array(0, "cond", napi_uint8_array), a = c.array(1, "a", napi_float32_array);
    Arr b = c.array(2, "b", napi_float32_array), o = c.array(3, "out", napi_float32_array);
    int64_t shape[MAXDIM], cs[MAXDIM], as[MAXDIM], bs[MAXDIM], os[MAXDIM];
    int nd = (int)read_dims(c, shape, "out");
    uint8_t* cp = operand<uint8_t>(c, cd, nd, shape, cs, "cond");
    float* ap = operand<float>(c, a, nd, shape, as, "a");
    float* bp = operand<float>(c, b, nd, shape, bs, "b");
    float* op_ = operand<float>(c, o, nd, shape, os, "out");
    K->where(nd, shape, Operand{cp, cs}, Operand{ap, as}, Operand{bp, bs}, Operand{op_, os});
    return undefined(env);
  });
}

ENTRY(Copy) {
  return guarded(env, "copy", [&]() -> napi_value {
    Call c(env, info, "copy");
    Arr s = c.array(0, "src", napi_float32_array), d = c.array(1, "dst", napi_float32_array);
    int64_t shape[MAXDIM], ss[MAXDIM], ds[MAXDIM];
    int nd = (int)read_dims(c, shape, "dst");
    float* sp = operand<float>(c, s, nd, shape, ss, "src");
    float* dp = operand<float>(c, d, nd, shape, ds, "dst");
    K->copy(nd, shape, Operand{sp, ss}, Operand{dp, ds});
    return undefined(env);
  });
}

ENTRY(Reduce) {
  return guarded(env, "reduce", [&]() -> napi_value {
    Call c(env, info, "reduce");
    int op = (int)c.number(0, "op");
    if (op != R_SUM && op != R_MAX && op != R_MIN) throw Fail{"reduce: unknown op code " + std::to_string(op)};
    Arr x = c.array(1, "x", napi_float32_array), o = c.array(2, "out", napi_float32_array);
    int64_t shape[MAXDIM], xs[MAXDIM];
    uint8_t red[MAXDIM];
    int nd = (int)read_dims(c, shape, "x");
    float* xp = operand<float>(c, x, nd, shape, xs, "x");
    int64_t nout = 1;
    for (int d = 0; d < nd; d++) {
      red[d] = c.ri() != 0;
      if (!red[d]) nout *= shape[d];
    }
    float* op_ = contiguous<float>(c, o, nout, "out");
    K->reduce(op, nd, shape, red, Operand{xp, xs}, op_);
    return undefined(env);
  });
}

ENTRY(Matmul) {
  return guarded(env, "matmul", [&]() -> napi_value {
    Call c(env, info, "matmul");
    Arr a = c.array(0, "a", napi_float32_array), b = c.array(1, "b", napi_float32_array), o = c.array(2, "out", napi_float32_array);
    int64_t batch[MAXDIM];
    int nb = (int)read_dims(c, batch, "the batch");
    if (nb > MAXDIM - 2) throw Fail{"matmul: too many batch dims"};
    int64_t M = c.ri(), N = c.ri(), Kd = c.ri();
    int64_t ashape[MAXDIM], bshape[MAXDIM], as[MAXDIM], bs[MAXDIM];
    for (int d = 0; d < nb; d++) ashape[d] = bshape[d] = batch[d];
    ashape[nb] = M; ashape[nb + 1] = Kd;
    bshape[nb] = Kd; bshape[nb + 1] = N;
    float* ap = operand<float>(c, a, nb + 2, ashape, as, "a");
    float* bp = operand<float>(c, b, nb + 2, bshape, bs, "b");
    int64_t nbt = 1;
    for (int d = 0; d < nb; d++) nbt *= batch[d];
    float* op_ = contiguous<float>(c, o, nbt * M * N, "out");
    Arr bias = c.array(3, "bias", napi_float32_array, true);
    float* biasp = bias.present ? contiguous<float>(c, bias, N, "bias") : (c.ri(), nullptr);
    K->matmul(nb, batch, M, N, Kd, ap, as, bp, bs, op_, biasp);
    return undefined(env);
  });
}

Index index_arg(Call& c, const Arr& a, int64_t n, const char* what) {
  int64_t off = c.ri();
  if (n > 0 && (off < 0 || off + n > (int64_t)a.length)) throw Fail{std::string(c.op) + ": " + what + " is shorter than " + std::to_string(n)};
  if (a.type == napi_float64_array) return Index{static_cast<double*>(a.data) + off, 1};
  return Index{static_cast<int32_t*>(a.data) + off, 0};
}

// Throws unless every index is an integer in [0, rows).
void check_indices(Call& c, Index ix, int64_t n, int64_t rows) {
  for (int64_t i = 0; i < n; i++) {
    double v = ix.is_f64 ? static_cast<const double*>(ix.p)[i] : (double)static_cast<const int32_t*>(ix.p)[i];
    if (!(v >= 0 && v < (double)rows) || v != (double)(int64_t)v) {
      throw Fail{std::string(c.op) + ": index " + std::to_string(v) + " at position " + std::to_string(i) +
                 " is out of range for " + std::to_string(rows) + " rows"};
    }
  }
}

ENTRY(IndexSelect) {
  return guarded(env, "indexSelect", [&]() -> napi_value {
    Call c(env, info, "indexSelect");
    Arr t = c.array(0, "table", napi_float32_array), ix = c.array(1, "index", napi_float64_array, false, napi_int32_array);
    Arr o = c.array(2, "out", napi_float32_array);
    int64_t R = c.ri(), E = c.ri(), n = c.ri();
    float* tp = contiguous<float>(c, t, R * E, "table");
    Index idx = index_arg(c, ix, n, "index");
    float* op_ = contiguous<float>(c, o, n * E, "out");
    check_indices(c, idx, n, R);
    K->index_select(tp, E, idx, n, op_);
    return undefined(env);
  });
}

ENTRY(IndexAdd) {
  return guarded(env, "indexAdd", [&]() -> napi_value {
    Call c(env, info, "indexAdd");
    Arr d = c.array(0, "dst", napi_float32_array), ix = c.array(1, "index", napi_float64_array, false, napi_int32_array);
    Arr s = c.array(2, "src", napi_float32_array);
    int64_t R = c.ri(), E = c.ri(), n = c.ri();
    float* dp = contiguous<float>(c, d, R * E, "dst");
    Index idx = index_arg(c, ix, n, "index");
    float* sp = contiguous<float>(c, s, n * E, "src");
    check_indices(c, idx, n, R);
    K->index_add(dp, E, idx, n, sp);
    return undefined(env);
  });
}

ENTRY(Softmax) {
  return guarded(env, "softmax", [&]() -> napi_value {
    Call c(env, info, "softmax");
    Arr x = c.array(0, "x", napi_float32_array), o = c.array(1, "out", napi_float32_array);
    int log_ = (int)c.number(2, "log");
    int64_t outer = c.ri(), n = c.ri(), inner = c.ri();
    float* xp = contiguous<float>(c, x, outer * n * inner, "x");
    float* op_ = contiguous<float>(c, o, outer * n * inner, "out");
    K->softmax(xp, outer, n, inner, log_, op_);
    return undefined(env);
  });
}

ENTRY(SoftmaxBackward) {
  return guarded(env, "softmaxBackward", [&]() -> napi_value {
    Call c(env, info, "softmaxBackward");
    Arr y = c.array(0, "y", napi_float32_array), gy = c.array(1, "gy", napi_float32_array), gx = c.array(2, "gx", napi_float32_array);
    int log_ = (int)c.number(3, "log");
    int64_t outer = c.ri(), n = c.ri(), inner = c.ri(), tot = outer * n * inner;
    float* yp = contiguous<float>(c, y, tot, "y");
    float* gyp = contiguous<float>(c, gy, tot, "gy");
    float* gxp = contiguous<float>(c, gx, tot, "gx");
    K->softmax_backward(yp, gyp, outer, n, inner, log_, gxp);
    return undefined(env);
  });
}

ENTRY(LayerNorm) {
  return guarded(env, "layerNorm", [&]() -> napi_value {
    Call c(env, info, "layerNorm");
    Arr x = c.array(0, "x", napi_float32_array), w = c.array(1, "weight", napi_float32_array, true);
    Arr b = c.array(2, "bias", napi_float32_array, true), o = c.array(3, "out", napi_float32_array);
    Arr mu = c.array(4, "mean", napi_float32_array), rs = c.array(5, "rstd", napi_float32_array);
    float eps = (float)c.number(6, "eps");
    int64_t N = c.ri(), D = c.ri();
    float* xp = contiguous<float>(c, x, N * D, "x");
    int64_t woff = c.ri(), boff = c.ri();
    if (w.present && (woff < 0 || woff + D > (int64_t)w.length)) throw Fail{"layerNorm: weight is shorter than the normalized size"};
    if (b.present && (boff < 0 || boff + D > (int64_t)b.length)) throw Fail{"layerNorm: bias is shorter than the normalized size"};
    float* op_ = contiguous<float>(c, o, N * D, "out");
    float* mp = contiguous<float>(c, mu, N, "mean");
    float* rp = contiguous<float>(c, rs, N, "rstd");
    K->layer_norm(xp, w.present ? static_cast<float*>(w.data) + woff : nullptr,
                  b.present ? static_cast<float*>(b.data) + boff : nullptr, N, D, eps, op_, mp, rp);
    return undefined(env);
  });
}

ENTRY(LayerNormBackward) {
  return guarded(env, "layerNormBackward", [&]() -> napi_value {
    Call c(env, info, "layerNormBackward");
    Arr gy = c.array(0, "gy", napi_float32_array), x = c.array(1, "x", napi_float32_array);
    Arr w = c.array(2, "weight", napi_float32_array, true), mu = c.array(3, "mean", napi_float32_array);
    Arr rs = c.array(4, "rstd", napi_float32_array), gx = c.array(5, "gx", napi_float32_array);
    Arr gw = c.array(6, "gWeight", napi_float32_array, true), gb = c.array(7, "gBias", napi_float32_array, true);
    int64_t N = c.ri(), D = c.ri();
    float* gyp = contiguous<float>(c, gy, N * D, "gy");
    float* xp = contiguous<float>(c, x, N * D, "x");
    int64_t woff = c.ri();
    if (w.present && (woff < 0 || woff + D > (int64_t)w.length)) throw Fail{"layerNormBackward: weight is shorter than the normalized size"};
    float* mp = contiguous<float>(c, mu, N, "mean");
    float* rp = contiguous<float>(c, rs, N, "rstd");
    float* gxp = contiguous<float>(c, gx, N * D, "gx");
    int64_t gwoff = c.ri(), gboff = c.ri();
    if (gw.present && (gwoff < 0 || gwoff + D > (int64_t)gw.length)) throw Fail{"layerNormBackward: gWeight is too short"};
    if (gb.present && (gboff < 0 || gboff + D > (int64_t)gb.length)) throw Fail{"layerNormBackward: gBias is too short"};
    K->layer_norm_backward(gyp, xp, w.present ? static_cast<float*>(w.data) + woff : nullptr, mp, rp, N, D, gxp,
                           gw.present ? static_cast<float*>(gw.data) + gwoff : nullptr,
                           gb.present ? static_cast<float*>(gb.data) + gboff : nullptr);
    return undefined(env);
  });
}

ENTRY(CrossEntropy) {
  return guarded(env, "crossEntropy", [&]() -> napi_value {
    Call c(env, info, "crossEntropy");
    Arr x = c.array(0, "logits", napi_float32_array), t = c.array(1, "target", napi_float64_array, false, napi_int32_array);
    Arr l = c.array(2, "loss", napi_float32_array), s = c.array(3, "lse", napi_float32_array);
    double ignore = c.number(4, "ignoreIndex"), eps = c.number(5, "labelSmoothing");
    int64_t N = c.ri(), C = c.ri();
    float* xp = contiguous<float>(c, x, N * C, "logits");
    Index ti = index_arg(c, t, N, "target");
    float* lp = contiguous<float>(c, l, N, "loss");
    float* sp = contiguous<float>(c, s, N, "lse");
    int64_t bad = K->cross_entropy(xp, ti, N, C, (int64_t)ignore, (float)eps, lp, sp);
    napi_value r;
    CHECK_NAPI(napi_create_double(env, (double)bad, &r));
    return r;
  });
}

ENTRY(CrossEntropyBackward) {
  return guarded(env, "crossEntropyBackward", [&]() -> napi_value {
    Call c(env, info, "crossEntropyBackward");
    Arr x = c.array(0, "logits", napi_float32_array), t = c.array(1, "target", napi_float64_array, false, napi_int32_array);
    Arr s = c.array(2, "lse", napi_float32_array), g = c.array(3, "gLoss", napi_float32_array), gx = c.array(4, "gx", napi_float32_array);
    double ignore = c.number(5, "ignoreIndex"), eps = c.number(6, "labelSmoothing");
    int64_t N = c.ri(), C = c.ri();
    float* xp = contiguous<float>(c, x, N * C, "logits");
    Index ti = index_arg(c, t, N, "target");
    float* sp = contiguous<float>(c, s, N, "lse");
    float* gp = contiguous<float>(c, g, N, "gLoss");
    float* gxp = contiguous<float>(c, gx, N * C, "gx");
    // Targets were validated by the forward; recheck the ones this kernel indexes with.
    for (int64_t i = 0; i < N; i++) {
      double v = ti.is_f64 ? static_cast<const double*>(ti.p)[i] : (double)static_cast<const int32_t*>(ti.p)[i];
      if (v != ignore && !(v >= 0 && v < (double)C)) throw Fail{"crossEntropyBackward: target " + std::to_string(v) + " at position " + std::to_string(i) + " is out of range"};
    }
    K->cross_entropy_backward(xp, ti, sp, gp, N, C, (int64_t)ignore, (float)eps, gxp);
    return undefined(env);
  });
}

ENTRY(AdamStep) {
  return guarded(env, "adamStep", [&]() -> napi_value {
    Call c(env, info, "adamStep");
    Arr p = c.array(0, "param", napi_float32_array), g = c.array(1, "grad", napi_float32_array);
    Arr m = c.array(2, "expAvg", napi_float32_array), v = c.array(3, "expAvgSq", napi_float32_array);
    Arr vm = c.array(4, "maxExpAvgSq", napi_float32_array, true);
    int64_t n = c.ri();
    float* pp = contiguous<float>(c, p, n, "param");
    float* gp = contiguous<float>(c, g, n, "grad");
    float* mp = contiguous<float>(c, m, n, "expAvg");
    float* vp = contiguous<float>(c, v, n, "expAvgSq");
    int64_t vmoff = c.ri();
    if (vm.present && (vmoff < 0 || vmoff + n > (int64_t)vm.length)) throw Fail{"adamStep: maxExpAvgSq is too short"};
    AdamArgs a;
    a.lr = c.rd(); a.beta1 = c.rd(); a.beta2 = c.rd(); a.eps = c.rd(); a.weight_decay = c.rd();
    a.step = c.rd(); a.decoupled = c.ri() != 0; a.maximize = c.ri() != 0;
    K->adam_step(pp, gp, mp, vp, vm.present ? static_cast<float*>(vm.data) + vmoff : nullptr, n, &a);
    return undefined(env);
  });
}

// meta: nbatch, batch…, L, S, D, Dv, causal, scale, q (off, strides[nb+2]), k, v, mask (if present),
// out off, lse off [, gout (off, strides), gq off, gk off, gv off]
void read_attention(Call& c, AttentionArgs& a, int64_t* batch, int64_t (*st)[MAXDIM], bool backward) {
  // st has room for 5 stride rows (forward) or 8 (backward).
  Arr q = c.array(0, "q", napi_float32_array), k = c.array(1, "k", napi_float32_array), v = c.array(2, "v", napi_float32_array);
  Arr mask = c.array(3, "mask", napi_float32_array, true);
  Arr out = c.array(4, "out", napi_float32_array), lse = c.array(5, "lse", napi_float32_array);
  int nb = (int)read_dims(c, batch, "the batch");
  if (nb > MAXDIM - 2) throw Fail{std::string(c.op) + ": too many batch dims"};
  a.nbatch = nb;
  a.batch = batch;
  a.L = c.ri(); a.S = c.ri(); a.D = c.ri(); a.Dv = c.ri();
  a.causal = c.ri() != 0;
  a.scale = (float)c.rd();
  int64_t shp[MAXDIM];
  for (int d = 0; d < nb; d++) shp[d] = batch[d];
  int64_t nh = 1;
  for (int d = 0; d < nb; d++) nh *= batch[d];
  shp[nb] = a.L; shp[nb + 1] = a.D;
  a.q = operand<float>(c, q, nb + 2, shp, st[0], "q");
  a.qs = st[0];
  shp[nb] = a.S; shp[nb + 1] = a.D;
  a.k = operand<float>(c, k, nb + 2, shp, st[1], "k");
  a.ks = st[1];
  shp[nb] = a.S; shp[nb + 1] = a.Dv;
  a.v = operand<float>(c, v, nb + 2, shp, st[2], "v");
  a.vs = st[2];
  if (mask.present) {
    shp[nb] = a.L; shp[nb + 1] = a.S;
    a.mask = operand<float>(c, mask, nb + 2, shp, st[3], "mask");
    a.ms = st[3];
  } else {
    a.mask = nullptr;
    a.ms = nullptr;
  }
  a.out = contiguous<float>(c, out, nh * a.L * a.Dv, "out");
  a.lse = contiguous<float>(c, lse, nh * a.L, "lse");
  a.gout = nullptr; a.gs = nullptr; a.gq = a.gk = a.gv = nullptr; a.gqs = a.gks = a.gvs = nullptr;
  if (backward) {
    Arr go = c.array(6, "gOut", napi_float32_array), gq = c.array(7, "gq", napi_float32_array);
    Arr gk = c.array(8, "gk", napi_float32_array), gv = c.array(9, "gv", napi_float32_array);
    shp[nb] = a.L; shp[nb + 1] = a.Dv;
    a.gout = operand<float>(c, go, nb + 2, shp, st[4], "gOut");
    a.gs = st[4];
    shp[nb] = a.L; shp[nb + 1] = a.D;
    a.gq = operand<float>(c, gq, nb + 2, shp, st[5], "gq");
    shp[nb] = a.S; shp[nb + 1] = a.D;
    a.gk = operand<float>(c, gk, nb + 2, shp, st[6], "gk");
    shp[nb] = a.S; shp[nb + 1] = a.Dv;
    a.gv = operand<float>(c, gv, nb + 2, shp, st[7], "gv");
    a.gqs = st[5]; a.gks = st[6]; a.gvs = st[7];
    for (int i = 5; i <= 7; i++) {
      if (st[i][nb + 1] != 1 && (i == 7 ? a.Dv : a.D) > 1) throw Fail{std::string(c.op) + ": gradient outputs need stride 1 on the last dim"};
    }
  }
}

ENTRY(Attention) {
  return guarded(env, "attention", [&]() -> napi_value {
    Call c(env, info, "attention");
    AttentionArgs a;
    int64_t batch[MAXDIM], st[5][MAXDIM];
    read_attention(c, a, batch, st, false);
    K->attention(&a);
    return undefined(env);
  });
}

ENTRY(AttentionBackward) {
  return guarded(env, "attentionBackward", [&]() -> napi_value {
    Call c(env, info, "attentionBackward");
    AttentionArgs a;
    int64_t batch[MAXDIM], st[8][MAXDIM];
    read_attention(c, a, batch, st, true);
    K->attention_backward(&a);
    return undefined(env);
  });
}

ENTRY(SetNumThreads) {
  return guarded(env, "setNumThreads", [&]() -> napi_value {
    size_t argc = 1;
    napi_value argv[1];
    CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    double n = 0;
    if (argc < 1 || napi_get_value_double(env, argv[0], &n) != napi_ok) throw Fail{"setNumThreads: expects a number"};
    set_num_threads((int)n);
    return undefined(env);
  });
}

ENTRY(GetNumThreads) {
  napi_value r;
  napi_create_int32(env, num_threads(), &r);
  return r;
}

// poolSelfTest(jobs): runs `jobs` small parallel_for jobs of 2–8 tasks, each with its own
// context, and counts tasks that ran other than exactly once for their own job (0 = correct).
struct SelfTestCtx {
  int64_t n;
  std::atomic<int>* hits;
  std::atomic<int64_t>* bad;
};

void self_test_task(void* c, int64_t t, int) {
  SelfTestCtx* x = static_cast<SelfTestCtx*>(c);
  if (t < 0 || t >= x->n) { x->bad->fetch_add(1); return; }
  x->hits[t].fetch_add(1);
  volatile int64_t s = 0;
  for (int64_t i = 0; i < (t * 37) % 200; i++) s += i;
}

ENTRY(PoolSelfTest) {
  return guarded(env, "poolSelfTest", [&]() -> napi_value {
    size_t argc = 1;
    napi_value argv[1];
    CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    double jobs = 0;
    if (argc < 1 || napi_get_value_double(env, argv[0], &jobs) != napi_ok || jobs < 0) throw Fail{"poolSelfTest: expects a job count"};
    std::atomic<int64_t> bad{0};
    for (int64_t j = 0; j < (int64_t)jobs; j++) {
      std::atomic<int> hits[8];
      for (auto& h : hits) h.store(0);
      SelfTestCtx ctx{2 + j % 7, hits, &bad};
      parallel_for(ctx.n, &ctx, self_test_task);
      for (int64_t t = 0; t < 8; t++) if (hits[t].load() != (t < ctx.n ? 1 : 0)) bad.fetch_add(1);
      ctx.n = -1;  // a stale task touching this context now counts as bad
    }
    napi_value r;
    CHECK_NAPI(napi_create_double(env, (double)bad.load(), &r));
    return r;
  });
}

napi_value make_string(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

ENTRY(GetIsa) { return make_string(env, K->isa); }

// setIsa('avx2' | 'scalar'): for tests of the portable kernels on an AVX2 machine.
ENTRY(SetIsa) {
  return guarded(env, "setIsa", [&]() -> napi_value {
    size_t argc = 1;
    napi_value argv[1];
    CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    char buf[16] = {0};
    size_t len = 0;
    if (argc < 1 || napi_get_value_string_utf8(env, argv[0], buf, sizeof buf, &len) != napi_ok) throw Fail{"setIsa: expects a string"};
    std::string want(buf, len);
    if (want == "scalar") K = kernels_scalar();
    else if (want == "avx2") {
      if (!(has_avx2 && has_fma) || !kernels_avx2()) throw Fail{"setIsa: this CPU has no AVX2/FMA"};
      K = kernels_avx2();
    } else throw Fail{"setIsa: unknown instruction set \"" + want + "\" (expected avx2 or scalar)"};
    return undefined(env);
  });
}

ENTRY(CpuFeatures) {
  napi_value o, t, f;
  napi_create_object(env, &o);
  napi_get_boolean(env, true, &t);
  napi_get_boolean(env, false, &f);
  napi_set_named_property(env, o, "avx2", has_avx2 ? t : f);
  napi_set_named_property(env, o, "fma", has_fma ? t : f);
  napi_set_named_property(env, o, "avx512f", has_avx512f ? t : f);
  return o;
}

int default_threads() {
  const char* env = getenv("QKV_NUM_THREADS");
  if (env && *env) {
    char* end = nullptr;
    long n = strtol(env, &end, 10);
    if (end && *end == 0 && n >= 1 && n <= 256) return (int)n;
    fprintf(stderr, "qkv: ignoring QKV_NUM_THREADS=%s (expected an integer from 1 to 256)\n", env);
  }
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
#endif
  unsigned h = std::thread::hardware_concurrency();
  return h >= 1 ? (int)h : 1;
}

// Training allocates and frees tensor storage of the same sizes every step. glibc by default
// returns freed heap memory to the OS (trim) and maps large blocks afresh (mmap), so each step
// page-faults its memory back in (≈3× more minor faults here, ~5% of a W3 step). Keep freed
// memory in the heap instead; the peak resident size is unchanged. QKV_MALLOC_TUNING=0 opts out.
void tune_malloc() {
#if defined(__GLIBC__)
  const char* env = getenv("QKV_MALLOC_TUNING");
  if (env && strcmp(env, "0") == 0) return;
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);   // the largest glibc allows: blocks ≤ 32 MB come from the heap
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024); // keep up to 1 GB of freed memory for reuse
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);          // grow the heap in 64 MB steps
#endif
}

bool initialized = false;

napi_value ModuleInit(napi_env env, napi_value exports) {
  if (!initialized) {
    initialized = true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    has_avx2 = __builtin_cpu_supports("avx2");
    has_fma = __builtin_cpu_supports("fma");
    has_avx512f = __builtin_cpu_supports("avx512f");
#endif
    const char* force = getenv("QKV_NATIVE_ISA");
    K = (has_avx2 && has_fma && kernels_avx2()) ? kernels_avx2() : kernels_scalar();
    if (force && strcmp(force, "scalar") == 0) K = kernels_scalar();
    set_num_threads(default_threads());
    tune_malloc();
  }
  struct Fn { const char* name; napi_callback cb; };
  const Fn fns[] = {
    {"init", Init}, {"unary", Unary}, {"binary", Binary}, {"where", Where}, {"copy", Copy},
    {"reduce", Reduce}, {"matmul", Matmul}, {"indexSelect", IndexSelect}, {"indexAdd", IndexAdd},
    {"softmax", Softmax}, {"softmaxBackward", SoftmaxBackward}, {"layerNorm", LayerNorm},
    {"layerNormBackward", LayerNormBackward}, {"crossEntropy", CrossEntropy},
    {"crossEntropyBackward", CrossEntropyBackward}, {"adamStep", AdamStep}, {"attention", Attention},
    {"attentionBackward", AttentionBackward}, {"setNumThreads", SetNumThreads},
    {"getNumThreads", GetNumThreads}, {"isa", GetIsa}, {"setIsa", SetIsa}, {"cpuFeatures", CpuFeatures},
    {"poolSelfTest", PoolSelfTest},
  };
  for (const Fn& f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
  // Op-code tables, so the JavaScript side can check that its op order matches.
  const char* unary[] = {"neg", "abs", "sign", "square", "reciprocal", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid",
                         "relu", "gelu", "geluTanh", "sin", "cos", "erf", "floor", "ceil", "round"};
  const char* binary[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "eq", "ne", "lt", "le",
                          "gt", "ge", "logicalAnd", "logicalOr", "reluBackward", "geluBackward", "geluTanhBackward",
                          "sigmoidBackward", "tanhBackward"};
  static_assert(sizeof(unary) / sizeof(unary[0]) == U_COUNT, "unary op table");
  static_assert(sizeof(binary) / sizeof(binary[0]) == B_COUNT, "binary op table");
  napi_value ua, ba;
  napi_create_array_with_length(env, U_COUNT, &ua);
  for (uint32_t i = 0; i < U_COUNT; i++) napi_set_element(env, ua, i, make_string(env, unary[i]));
  napi_create_array_with_length(env, B_COUNT, &ba);
  for (uint32_t i = 0; i < B_COUNT; i++) napi_set_element(env, ba, i, make_string(env, binary[i]));
  napi_set_named_property(env, exports, "unaryOps", ua);
  napi_set_named_property(env, exports, "binaryOps", ba);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, ModuleInit)
