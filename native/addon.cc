// N-API glue of the native backend (plain Node-API C, no node-addon-api).
//
// A call passes its typed arrays as arguments and the layout of each (ndim, offset, shape,
// strides) plus its scalars in one shared Float64Array, META, registered once with init(). The
// layout of META is the call descriptor of abi.h, the one definition both sides use: view
// record i describes typed-array argument i. The kernels work on the arrays' memory in place
// (napi_get_typedarray_info: zero copy). Every operand's reachable range is checked against its
// array's length, and the operands' shapes against each other, before a kernel runs, so a wrong
// view is a JavaScript exception, never a stray write.
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
#include "abi.h"

using namespace qkv;

static_assert(MAX_DIMS == MAXDIM, "abi.h MAX_DIMS must be the kernels' MAXDIM");

namespace {

const Kernels* K = nullptr;  // the active kernel table
bool has_avx2 = false, has_fma = false, has_avx512f = false;
const double* META = nullptr;  // META_LEN slots, laid out as abi.h says
napi_ref meta_ref = nullptr;

struct Fail {
  std::string msg;
};

#define CHECK_NAPI(call)                                     \
  do {                                                       \
    if ((call) != napi_ok) throw Fail{"N-API call failed: " #call}; \
  } while (0)

const char* type_name(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint8_array: return "Uint8Array";
    default: return "another typed array";
  }
}

std::string dims_str(int nd, const int64_t* shape) {
  std::string s = "[";
  for (int d = 0; d < nd; d++) s += (d ? ", " : "") + std::to_string(shape[d]);
  return s + "]";
}

// One operand: its typed array and its view record (abi.h), read into integers.
struct View {
  void* data = nullptr;
  size_t length = 0;  // elements of the array
  napi_typedarray_type type = napi_float32_array;
  bool present = false;
  const char* what = "";
  int nd = 0;
  int64_t offset = 0;
  int64_t shape[MAXDIM];
  int64_t strides[MAXDIM];
};

struct Call {
  napi_env env;
  const char* op;
  size_t argc = MAX_VIEWS;
  napi_value argv[MAX_VIEWS];

  Call(napi_env e, napi_callback_info info, const char* name) : env(e), op(name) {
    CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    if (!META) throw Fail{std::string(op) + ": native backend used before init()"};
  }

  std::string fail(const View& v, const std::string& msg) const { return std::string(op) + ": " + v.what + " " + msg; }

  // The scalar in per-call slot s (abi.h).
  double arg(int s) const { return META[s]; }
  int64_t iarg(int s) const { return (int64_t)META[s]; }

  // Typed-array argument i (of type `want` or `alt`) and its view record i. A null or
  // undefined argument is allowed when `nullable` (then v.present is false).
  View view(int i, const char* what, napi_typedarray_type want, bool nullable = false, napi_typedarray_type alt = napi_float32_array) const {
    View v;
    read(v, i, what, want, nullable, alt);
    return v;
  }
  void read(View& v, int i, const char* what, napi_typedarray_type want, bool nullable = false, napi_typedarray_type alt = napi_float32_array) const {
    v.what = what;
    if ((size_t)i >= argc) throw Fail{std::string(op) + ": missing argument " + what};
    // One N-API call on the usual path; only a failure asks what the argument was.
    if (napi_get_typedarray_info(env, argv[i], &v.type, &v.length, &v.data, nullptr, nullptr) != napi_ok) {
      napi_valuetype vt;
      CHECK_NAPI(napi_typeof(env, argv[i], &vt));
      if (vt == napi_null || vt == napi_undefined) {
        if (!nullable) throw Fail{std::string(op) + ": " + what + " is required"};
        return;
      }
      throw Fail{std::string(op) + ": " + what + " must be a typed array"};
    }
    if (v.type != want && v.type != alt) {
      throw Fail{std::string(op) + ": " + what + " must be a " + type_name(want) + ", got " + type_name(v.type)};
    }
    v.present = true;
    const double* r = META + VIEW_BASE + (size_t)i * VIEW_SIZE;
    const double nd = r[VIEW_NDIM];
    if (!(nd >= 0 && nd <= MAX_DIMS)) {
      char buf[32];
      snprintf(buf, sizeof buf, "%g", nd);
      throw Fail{fail(v, std::string("has ") + buf + " dims; the native backend takes at most " + std::to_string(MAX_DIMS))};
    }
    v.nd = (int)nd;
    v.offset = (int64_t)r[VIEW_OFFSET];
    for (int d = 0; d < v.nd; d++) {
      v.shape[d] = (int64_t)r[VIEW_SHAPE + d];
      v.strides[d] = (int64_t)r[VIEW_STRIDES + d];
      if (v.shape[d] < 0) throw Fail{fail(v, "has a negative size")};
    }
  }

  static bool has_shape(const View& v, int nd, const int64_t* shape) {
    if (v.nd != nd) return false;
    for (int d = 0; d < nd; d++) if (v.shape[d] != shape[d]) return false;
    return true;
  }
  // Throws unless v has exactly the shape (nd, shape) that `who` needs.
  void expect_shape(const View& v, int nd, const int64_t* shape, const char* who) const {
    if (!has_shape(v, nd, shape)) throw Fail{fail(v, "has shape " + dims_str(v.nd, v.shape) + " but " + who + " " + dims_str(nd, shape))};
  }
  // Throws unless v has the shape of ref.
  void same_shape(const View& v, const View& ref) const {
    if (!has_shape(v, ref.nd, ref.shape)) {
      throw Fail{fail(v, "has shape " + dims_str(v.nd, v.shape) + " but " + ref.what + " has " + dims_str(ref.nd, ref.shape))};
    }
  }
  // Throws unless v has `nd` dims.
  void expect_rank(const View& v, int nd) const {
    if (v.nd != nd) throw Fail{fail(v, "must have " + std::to_string(nd) + " dims, got " + dims_str(v.nd, v.shape))};
  }

  // Checks that every element (offset + Σ i_d·stride_d) of v lies inside its array; returns the
  // pointer to element (0, …, 0).
  template <class T>
  T* strided(const View& v) const {
    int64_t lo = v.offset, hi = v.offset;
    bool empty = false;
    for (int d = 0; d < v.nd; d++) {
      if (v.shape[d] == 0) { empty = true; break; }  // empty: nothing is touched
      int64_t span = (v.shape[d] - 1) * v.strides[d];
      if (span > 0) hi += span; else lo += span;
    }
    if (!empty && (lo < 0 || hi >= (int64_t)v.length)) {
      throw Fail{fail(v, "reaches elements [" + std::to_string(lo) + ", " + std::to_string(hi) + "] of an array of length " + std::to_string(v.length))};
    }
    return static_cast<T*>(v.data) + v.offset;
  }

  // v as a contiguous run of n elements from its offset (its strides are not read).
  template <class T>
  T* contiguous(const View& v, int64_t n) const {
    if (n > 0 && (v.offset < 0 || v.offset + n > (int64_t)v.length)) {
      throw Fail{fail(v, "needs " + std::to_string(n) + " elements from offset " + std::to_string(v.offset) +
                         " but its array has " + std::to_string(v.length))};
    }
    return static_cast<T*>(v.data) + v.offset;
  }
  // An optional operand of n contiguous elements: null when absent.
  float* optional(const View& v, int64_t n, const char* too_short) const {
    if (!v.present) return nullptr;
    if (v.offset < 0 || v.offset + n > (int64_t)v.length) throw Fail{std::string(op) + ": " + too_short};
    return static_cast<float*>(v.data) + v.offset;
  }

  Index index(const View& v, int64_t n) const {
    if (n > 0 && (v.offset < 0 || v.offset + n > (int64_t)v.length)) throw Fail{fail(v, "is shorter than " + std::to_string(n))};
    if (v.type == napi_float64_array) return Index{static_cast<double*>(v.data) + v.offset, 1};
    return Index{static_cast<int32_t*>(v.data) + v.offset, 0};
  }
};

int64_t numel(const View& v) {
  int64_t n = 1;
  for (int d = 0; d < v.nd; d++) n *= v.shape[d];
  return n;
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
    if (len < (size_t)META_LEN) throw Fail{"init: the call descriptor needs " + std::to_string(META_LEN) + " slots, got " + std::to_string(len)};
    if (meta_ref) napi_delete_reference(env, meta_ref);
    CHECK_NAPI(napi_create_reference(env, argv[0], 1, &meta_ref));
    META = static_cast<const double*>(data);
    return undefined(env);
  });
}

// unary(x, out) · ARG_OP
ENTRY(Unary) {
  return guarded(env, "unary", [&]() -> napi_value {
    Call c(env, info, "unary");
    int op = (int)c.iarg(ARG_OP);
    if (op < 0 || op >= U_COUNT) throw Fail{"unary: unknown op code " + std::to_string(op)};
    View x = c.view(0, "x", napi_float32_array), y = c.view(1, "out", napi_float32_array);
    c.same_shape(x, y);
    float* xp = c.strided<float>(x);
    float* yp = c.strided<float>(y);
    K->unary(op, y.nd, y.shape, Operand{xp, x.strides}, Operand{yp, y.strides});
    return undefined(env);
  });
}

// binary(a, b, out) · ARG_OP; out is a Uint8Array (bool) for the comparisons and logical ops.
ENTRY(Binary) {
  return guarded(env, "binary", [&]() -> napi_value {
    Call c(env, info, "binary");
    int op = (int)c.iarg(ARG_OP);
    if (op < 0 || op >= B_COUNT) throw Fail{"binary: unknown op code " + std::to_string(op)};
    const bool cmp = op >= B_EQ && op <= B_OR;
    View a = c.view(0, "a", napi_float32_array), b = c.view(1, "b", napi_float32_array);
    View o = c.view(2, "out", cmp ? napi_uint8_array : napi_float32_array);
    c.same_shape(a, o);
    c.same_shape(b, o);
    float* ap = c.strided<float>(a);
    float* bp = c.strided<float>(b);
    void* op_ = cmp ? (void*)c.strided<uint8_t>(o) : (void*)c.strided<float>(o);
    K->binary(op, o.nd, o.shape, Operand{ap, a.strides}, Operand{bp, b.strides}, Operand{op_, o.strides});
    return undefined(env);
  });
}

// where(cond, a, b, out)
ENTRY(Where) {
  return guarded(env, "where", [&]() -> napi_value {
    Call c(env, info, "where");
    View cd = c.view(0, "cond", napi_uint8_array), a = c.view(1, "a", napi_float32_array);
    View b = c.view(2, "b", napi_float32_array), o = c.view(3, "out", napi_float32_array);
    c.same_shape(cd, o);
    c.same_shape(a, o);
    c.same_shape(b, o);
    uint8_t* cp = c.strided<uint8_t>(cd);
    float* ap = c.strided<float>(a);
    float* bp = c.strided<float>(b);
    float* op_ = c.strided<float>(o);
    K->where(o.nd, o.shape, Operand{cp, cd.strides}, Operand{ap, a.strides}, Operand{bp, b.strides}, Operand{op_, o.strides});
    return undefined(env);
  });
}

// copy(src, dst)
ENTRY(Copy) {
  return guarded(env, "copy", [&]() -> napi_value {
    Call c(env, info, "copy");
    View s = c.view(0, "src", napi_float32_array), d = c.view(1, "dst", napi_float32_array);
    c.same_shape(s, d);
    float* sp = c.strided<float>(s);
    float* dp = c.strided<float>(d);
    K->copy(d.nd, d.shape, Operand{sp, s.strides}, Operand{dp, d.strides});
    return undefined(env);
  });
}

// reduce(x, out) · ARG_OP, ARG_REDUCED; out is contiguous over the kept dims.
ENTRY(Reduce) {
  return guarded(env, "reduce", [&]() -> napi_value {
    Call c(env, info, "reduce");
    int op = (int)c.iarg(ARG_OP);
    if (op != R_SUM && op != R_MAX && op != R_MIN) throw Fail{"reduce: unknown op code " + std::to_string(op)};
    View x = c.view(0, "x", napi_float32_array), o = c.view(1, "out", napi_float32_array);
    const int64_t bits = c.iarg(ARG_REDUCED);
    if (bits < 0 || (bits >> x.nd) != 0) throw Fail{"reduce: reduced dims " + std::to_string(bits) + " (a bit mask) out of range for " + std::to_string(x.nd) + " dims"};
    float* xp = c.strided<float>(x);
    uint8_t red[MAXDIM];
    int64_t nout = 1;
    for (int d = 0; d < x.nd; d++) {
      red[d] = (bits >> d) & 1;
      if (!red[d]) nout *= x.shape[d];
    }
    float* op_ = c.contiguous<float>(o, nout);
    K->reduce(op, x.nd, x.shape, red, Operand{xp, x.strides}, op_);
    return undefined(env);
  });
}

// matmul(a [...batch, M, K], b [...batch, K, N], out [...batch, M, N] contiguous, bias [N] or null)
ENTRY(Matmul) {
  return guarded(env, "matmul", [&]() -> napi_value {
    Call c(env, info, "matmul");
    View a = c.view(0, "a", napi_float32_array), b = c.view(1, "b", napi_float32_array), o = c.view(2, "out", napi_float32_array);
    View bias = c.view(3, "bias", napi_float32_array, true);
    if (o.nd < 2) throw Fail{"matmul: out must have at least 2 dims, got " + dims_str(o.nd, o.shape)};
    const int nb = o.nd - 2;
    const int64_t M = o.shape[nb], N = o.shape[nb + 1];
    if (a.nd != o.nd) c.expect_rank(a, o.nd);
    const int64_t Kd = a.shape[nb + 1];
    int64_t shp[MAXDIM];
    for (int d = 0; d < nb; d++) shp[d] = o.shape[d];
    shp[nb] = M; shp[nb + 1] = Kd;
    c.expect_shape(a, o.nd, shp, "out needs");
    shp[nb] = Kd; shp[nb + 1] = N;
    c.expect_shape(b, o.nd, shp, "a and out need");
    float* ap = c.strided<float>(a);
    float* bp = c.strided<float>(b);
    int64_t nbt = 1;
    for (int d = 0; d < nb; d++) nbt *= o.shape[d];
    float* op_ = c.contiguous<float>(o, nbt * M * N);
    float* biasp = bias.present ? c.contiguous<float>(bias, N) : nullptr;
    K->matmul(nb, o.shape, M, N, Kd, ap, a.strides, bp, b.strides, op_, biasp);
    return undefined(env);
  });
}

// Throws unless every index is an integer in [0, rows).
void check_indices(const Call& c, Index ix, int64_t n, int64_t rows) {
  for (int64_t i = 0; i < n; i++) {
    double v = ix.is_f64 ? static_cast<const double*>(ix.p)[i] : (double)static_cast<const int32_t*>(ix.p)[i];
    if (!(v >= 0 && v < (double)rows) || v != (double)(int64_t)v) {
      throw Fail{std::string(c.op) + ": index " + std::to_string(v) + " at position " + std::to_string(i) +
                 " is out of range for " + std::to_string(rows) + " rows"};
    }
  }
}

// indexSelect(table [R, E], index (n integers: Float64Array or Int32Array), out [n, E]), all contiguous
ENTRY(IndexSelect) {
  return guarded(env, "indexSelect", [&]() -> napi_value {
    Call c(env, info, "indexSelect");
    View t = c.view(0, "table", napi_float32_array), ix = c.view(1, "index", napi_float64_array, false, napi_int32_array);
    View o = c.view(2, "out", napi_float32_array);
    c.expect_rank(t, 2);
    const int64_t R = t.shape[0], E = t.shape[1], n = numel(ix);
    float* tp = c.contiguous<float>(t, R * E);
    Index idx = c.index(ix, n);
    float* op_ = c.contiguous<float>(o, n * E);
    check_indices(c, idx, n, R);
    K->index_select(tp, E, idx, n, op_);
    return undefined(env);
  });
}

// indexAdd(dst [R, E], index (n integers), src [n, E]), all contiguous
ENTRY(IndexAdd) {
  return guarded(env, "indexAdd", [&]() -> napi_value {
    Call c(env, info, "indexAdd");
    View d = c.view(0, "dst", napi_float32_array), ix = c.view(1, "index", napi_float64_array, false, napi_int32_array);
    View s = c.view(2, "src", napi_float32_array);
    c.expect_rank(d, 2);
    const int64_t R = d.shape[0], E = d.shape[1], n = numel(ix);
    float* dp = c.contiguous<float>(d, R * E);
    Index idx = c.index(ix, n);
    float* sp = c.contiguous<float>(s, n * E);
    check_indices(c, idx, n, R);
    K->index_add(dp, E, idx, n, sp);
    return undefined(env);
  });
}

// x's shape split at `dim` into outer × n × inner.
void split_at_dim(const Call& c, const View& x, int64_t dim, int64_t& outer, int64_t& n, int64_t& inner) {
  if (dim < 0 || dim >= x.nd) throw Fail{std::string(c.op) + ": dim " + std::to_string(dim) + " out of range for " + x.what + " of shape " + dims_str(x.nd, x.shape)};
  outer = 1;
  inner = 1;
  for (int d = 0; d < dim; d++) outer *= x.shape[d];
  n = x.shape[dim];
  for (int d = (int)dim + 1; d < x.nd; d++) inner *= x.shape[d];
}

// softmax(x, out), contiguous · ARG_DIM, ARG_LOG
ENTRY(Softmax) {
  return guarded(env, "softmax", [&]() -> napi_value {
    Call c(env, info, "softmax");
    View x = c.view(0, "x", napi_float32_array), o = c.view(1, "out", napi_float32_array);
    int64_t outer, n, inner;
    split_at_dim(c, x, c.iarg(ARG_DIM), outer, n, inner);
    float* xp = c.contiguous<float>(x, outer * n * inner);
    float* op_ = c.contiguous<float>(o, outer * n * inner);
    K->softmax(xp, outer, n, inner, c.iarg(ARG_LOG) != 0, op_);
    return undefined(env);
  });
}

// softmaxBackward(y, gy, gx), contiguous · ARG_DIM, ARG_LOG
ENTRY(SoftmaxBackward) {
  return guarded(env, "softmaxBackward", [&]() -> napi_value {
    Call c(env, info, "softmaxBackward");
    View y = c.view(0, "y", napi_float32_array), gy = c.view(1, "gy", napi_float32_array), gx = c.view(2, "gx", napi_float32_array);
    int64_t outer, n, inner;
    split_at_dim(c, y, c.iarg(ARG_DIM), outer, n, inner);
    const int64_t tot = outer * n * inner;
    float* yp = c.contiguous<float>(y, tot);
    float* gyp = c.contiguous<float>(gy, tot);
    float* gxp = c.contiguous<float>(gx, tot);
    K->softmax_backward(yp, gyp, outer, n, inner, c.iarg(ARG_LOG) != 0, gxp);
    return undefined(env);
  });
}

// The last dim of x (D) and the row count N = numel(mean) of a layer norm.
void norm_sizes(const Call& c, const View& x, const View& mean, int64_t& N, int64_t& D) {
  if (x.nd < 1) throw Fail{std::string(c.op) + ": x must have at least 1 dim"};
  D = x.shape[x.nd - 1];
  N = numel(mean);
}

// layerNorm(x [N, D], weight [D] or null, bias [D] or null, out, mean [N], rstd [N]), contiguous · ARG_EPS
ENTRY(LayerNorm) {
  return guarded(env, "layerNorm", [&]() -> napi_value {
    Call c(env, info, "layerNorm");
    View x = c.view(0, "x", napi_float32_array), w = c.view(1, "weight", napi_float32_array, true);
    View b = c.view(2, "bias", napi_float32_array, true), o = c.view(3, "out", napi_float32_array);
    View mu = c.view(4, "mean", napi_float32_array), rs = c.view(5, "rstd", napi_float32_array);
    int64_t N, D;
    norm_sizes(c, x, mu, N, D);
    float* xp = c.contiguous<float>(x, N * D);
    float* wp = c.optional(w, D, "weight is shorter than the normalized size");
    float* bp = c.optional(b, D, "bias is shorter than the normalized size");
    float* op_ = c.contiguous<float>(o, N * D);
    float* mp = c.contiguous<float>(mu, N);
    float* rp = c.contiguous<float>(rs, N);
    K->layer_norm(xp, wp, bp, N, D, (float)c.arg(ARG_EPS), op_, mp, rp);
    return undefined(env);
  });
}

// layerNormBackward(gy, x, weight or null, mean, rstd, gx, gWeight or null, gBias or null), contiguous
ENTRY(LayerNormBackward) {
  return guarded(env, "layerNormBackward", [&]() -> napi_value {
    Call c(env, info, "layerNormBackward");
    View gy = c.view(0, "gy", napi_float32_array), x = c.view(1, "x", napi_float32_array);
    View w = c.view(2, "weight", napi_float32_array, true), mu = c.view(3, "mean", napi_float32_array);
    View rs = c.view(4, "rstd", napi_float32_array), gx = c.view(5, "gx", napi_float32_array);
    View gw = c.view(6, "gWeight", napi_float32_array, true), gb = c.view(7, "gBias", napi_float32_array, true);
    int64_t N, D;
    norm_sizes(c, x, mu, N, D);
    float* gyp = c.contiguous<float>(gy, N * D);
    float* xp = c.contiguous<float>(x, N * D);
    float* wp = c.optional(w, D, "weight is shorter than the normalized size");
    float* mp = c.contiguous<float>(mu, N);
    float* rp = c.contiguous<float>(rs, N);
    float* gxp = c.contiguous<float>(gx, N * D);
    float* gwp = c.optional(gw, D, "gWeight is too short");
    float* gbp = c.optional(gb, D, "gBias is too short");
    K->layer_norm_backward(gyp, xp, wp, mp, rp, N, D, gxp, gwp, gbp);
    return undefined(env);
  });
}

// crossEntropy(logits [N, C], target (N integers), loss [N], lse [N]), contiguous
// · ARG_IGNORE_INDEX, ARG_SMOOTHING; returns the first row with a bad target, or −1.
ENTRY(CrossEntropy) {
  return guarded(env, "crossEntropy", [&]() -> napi_value {
    Call c(env, info, "crossEntropy");
    View x = c.view(0, "logits", napi_float32_array), t = c.view(1, "target", napi_float64_array, false, napi_int32_array);
    View l = c.view(2, "loss", napi_float32_array), s = c.view(3, "lse", napi_float32_array);
    c.expect_rank(x, 2);
    const int64_t N = x.shape[0], C = x.shape[1];
    float* xp = c.contiguous<float>(x, N * C);
    Index ti = c.index(t, N);
    float* lp = c.contiguous<float>(l, N);
    float* sp = c.contiguous<float>(s, N);
    int64_t bad = K->cross_entropy(xp, ti, N, C, (int64_t)c.arg(ARG_IGNORE_INDEX), (float)c.arg(ARG_SMOOTHING), lp, sp);
    napi_value r;
    CHECK_NAPI(napi_create_double(env, (double)bad, &r));
    return r;
  });
}

// crossEntropyBackward(logits [N, C], target, lse [N], gLoss [N], gx [N, C]), contiguous
// · ARG_IGNORE_INDEX, ARG_SMOOTHING
ENTRY(CrossEntropyBackward) {
  return guarded(env, "crossEntropyBackward", [&]() -> napi_value {
    Call c(env, info, "crossEntropyBackward");
    View x = c.view(0, "logits", napi_float32_array), t = c.view(1, "target", napi_float64_array, false, napi_int32_array);
    View s = c.view(2, "lse", napi_float32_array), g = c.view(3, "gLoss", napi_float32_array), gx = c.view(4, "gx", napi_float32_array);
    c.expect_rank(x, 2);
    const int64_t N = x.shape[0], C = x.shape[1];
    const double ignore = c.arg(ARG_IGNORE_INDEX);
    float* xp = c.contiguous<float>(x, N * C);
    Index ti = c.index(t, N);
    float* sp = c.contiguous<float>(s, N);
    float* gp = c.contiguous<float>(g, N);
    float* gxp = c.contiguous<float>(gx, N * C);
    // Targets were validated by the forward; recheck the ones this kernel indexes with.
    for (int64_t i = 0; i < N; i++) {
      double v = ti.is_f64 ? static_cast<const double*>(ti.p)[i] : (double)static_cast<const int32_t*>(ti.p)[i];
      if (v != ignore && !(v >= 0 && v < (double)C)) throw Fail{"crossEntropyBackward: target " + std::to_string(v) + " at position " + std::to_string(i) + " is out of range"};
    }
    K->cross_entropy_backward(xp, ti, sp, gp, N, C, (int64_t)ignore, (float)c.arg(ARG_SMOOTHING), gxp);
    return undefined(env);
  });
}

// adamStep(param, grad, expAvg, expAvgSq, maxExpAvgSq or null), contiguous, n = numel(param)
// · ADAM_LR … ADAM_MAXIMIZE
ENTRY(AdamStep) {
  return guarded(env, "adamStep", [&]() -> napi_value {
    Call c(env, info, "adamStep");
    View p = c.view(0, "param", napi_float32_array), g = c.view(1, "grad", napi_float32_array);
    View m = c.view(2, "expAvg", napi_float32_array), v = c.view(3, "expAvgSq", napi_float32_array);
    View vm = c.view(4, "maxExpAvgSq", napi_float32_array, true);
    const int64_t n = numel(p);
    float* pp = c.contiguous<float>(p, n);
    float* gp = c.contiguous<float>(g, n);
    float* mp = c.contiguous<float>(m, n);
    float* vp = c.contiguous<float>(v, n);
    float* vmp = c.optional(vm, n, "maxExpAvgSq is too short");
    AdamArgs a;
    a.lr = c.arg(ADAM_LR); a.beta1 = c.arg(ADAM_BETA1); a.beta2 = c.arg(ADAM_BETA2); a.eps = c.arg(ADAM_EPS);
    a.weight_decay = c.arg(ADAM_WEIGHT_DECAY); a.step = c.arg(ADAM_STEP);
    a.decoupled = c.iarg(ADAM_DECOUPLED) != 0; a.maximize = c.iarg(ADAM_MAXIMIZE) != 0;
    K->adam_step(pp, gp, mp, vp, vmp, n, &a);
    return undefined(env);
  });
}

// attention(q [...B, L, D], k [...B, S, D], v [...B, S, Dv], mask [...B, L, S] or null,
//           out [...B, L, Dv] contiguous, lse [...B, L] contiguous) · ARG_CAUSAL, ARG_SCALE
// attentionBackward(…the same…, gOut [...B, L, Dv], gq like q, gk like k, gv like v)
struct AttentionViews {
  View q, k, v, mask, out, lse, gout, gq, gk, gv;
};

void read_attention(const Call& c, AttentionViews& w, AttentionArgs& a, bool backward) {
  c.read(w.q, 0, "q", napi_float32_array);
  c.read(w.k, 1, "k", napi_float32_array);
  c.read(w.v, 2, "v", napi_float32_array);
  c.read(w.mask, 3, "mask", napi_float32_array, true);
  c.read(w.out, 4, "out", napi_float32_array);
  c.read(w.lse, 5, "lse", napi_float32_array);
  const View& q = w.q;
  if (q.nd < 2) throw Fail{std::string(c.op) + ": q must have at least 2 dims, got " + dims_str(q.nd, q.shape)};
  const int nb = q.nd - 2;
  a.nbatch = nb;
  a.batch = q.shape;
  a.L = q.shape[nb]; a.D = q.shape[nb + 1];
  if (w.k.nd != q.nd) c.expect_rank(w.k, q.nd);
  if (w.v.nd != q.nd) c.expect_rank(w.v, q.nd);
  a.S = w.k.shape[nb]; a.Dv = w.v.shape[nb + 1];
  a.causal = c.iarg(ARG_CAUSAL) != 0;
  a.scale = (float)c.arg(ARG_SCALE);
  int64_t shp[MAXDIM];
  for (int d = 0; d < nb; d++) shp[d] = q.shape[d];
  int64_t nh = 1;
  for (int d = 0; d < nb; d++) nh *= q.shape[d];
  auto expect = [&](const View& x, int64_t rows, int64_t cols, const char* why) {
    shp[nb] = rows; shp[nb + 1] = cols;
    c.expect_shape(x, nb + 2, shp, why);
  };
  expect(w.k, a.S, a.D, "q needs");
  expect(w.v, a.S, a.Dv, "q and k need");
  a.q = c.strided<float>(q);
  a.qs = q.strides;
  a.k = c.strided<float>(w.k);
  a.ks = w.k.strides;
  a.v = c.strided<float>(w.v);
  a.vs = w.v.strides;
  if (w.mask.present) {
    expect(w.mask, a.L, a.S, "q and k need");
    a.mask = c.strided<float>(w.mask);
    a.ms = w.mask.strides;
  } else {
    a.mask = nullptr;
    a.ms = nullptr;
  }
  a.out = c.contiguous<float>(w.out, nh * a.L * a.Dv);
  a.lse = c.contiguous<float>(w.lse, nh * a.L);
  a.gout = nullptr; a.gs = nullptr; a.gq = a.gk = a.gv = nullptr; a.gqs = a.gks = a.gvs = nullptr;
  if (backward) {
    c.read(w.gout, 6, "gOut", napi_float32_array);
    c.read(w.gq, 7, "gq", napi_float32_array);
    c.read(w.gk, 8, "gk", napi_float32_array);
    c.read(w.gv, 9, "gv", napi_float32_array);
    expect(w.gout, a.L, a.Dv, "out needs");
    a.gout = c.strided<float>(w.gout);
    a.gs = w.gout.strides;
    c.same_shape(w.gq, q);
    a.gq = c.strided<float>(w.gq);
    c.same_shape(w.gk, w.k);
    a.gk = c.strided<float>(w.gk);
    c.same_shape(w.gv, w.v);
    a.gv = c.strided<float>(w.gv);
    a.gqs = w.gq.strides; a.gks = w.gk.strides; a.gvs = w.gv.strides;
    const View* g3[3] = {&w.gq, &w.gk, &w.gv};
    for (int i = 0; i < 3; i++) {
      if (g3[i]->strides[nb + 1] != 1 && (i == 2 ? a.Dv : a.D) > 1) throw Fail{std::string(c.op) + ": gradient outputs need stride 1 on the last dim"};
    }
  }
}

ENTRY(Attention) {
  return guarded(env, "attention", [&]() -> napi_value {
    Call c(env, info, "attention");
    AttentionViews w;
    AttentionArgs a;
    read_attention(c, w, a, false);
    K->attention(&a);
    return undefined(env);
  });
}

ENTRY(AttentionBackward) {
  return guarded(env, "attentionBackward", [&]() -> napi_value {
    Call c(env, info, "attentionBackward");
    AttentionViews w;
    AttentionArgs a;
    read_attention(c, w, a, true);
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

// Fresh memory costs one page fault per 4 KB on first touch — about 15 µs each on the VMs qkv
// is measured on (64 MB ≈ 250 ms) — while memory the heap touched before is reused for free. A
// new process therefore runs its first few hundred ops several times slower than later ones,
// until V8's GC has freed enough ArrayBuffers for the heap to recycle. Warm the heap at load
// instead: reserve QKV_WARM_HEAP_MB (default 48) in the main arena, touch it on a background
// thread, and free it back to the heap, where the next ArrayBuffers find it.
void warm_heap() {
#if defined(__GLIBC__)
  const char* env = getenv("QKV_MALLOC_TUNING");
  if (env && strcmp(env, "0") == 0) return;
  const char* mb_env = getenv("QKV_WARM_HEAP_MB");
  long mb = mb_env ? strtol(mb_env, nullptr, 10) : 16;
  if (mb <= 0) return;
  if (mb > 1024) mb = 1024;
  // Blocks under the 32 MB mmap threshold come from the main arena's heap (this thread's).
  const size_t block = 4u << 20;
  size_t n = (size_t(mb) << 20) / block;
  if (n == 0) n = 1;
  void** blocks = static_cast<void**>(malloc(n * sizeof(void*)));
  if (!blocks) return;
  size_t got = 0;
  for (; got < n; got++) {
    blocks[got] = malloc(block);
    if (!blocks[got]) break;
  }
  for (size_t i = 0; i < got; i++) {
    volatile char* p = static_cast<char*>(blocks[i]);
    for (size_t off = 0; off < block; off += 4096) p[off] = 0;
  }
  for (size_t i = got; i-- > 0;) free(blocks[i]);
  free(blocks);
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
    warm_heap();
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
  // The call descriptor's layout (abi.h), so the JavaScript side can check it writes the same.
  napi_value abi;
  napi_create_object(env, &abi);
#define QKV_ABI_EXPORT(C, JS, V)                  \
  {                                               \
    napi_value n;                                 \
    napi_create_int32(env, C, &n);                \
    napi_set_named_property(env, abi, #JS, n);    \
  }
  QKV_ABI_TABLE(QKV_ABI_EXPORT)
#undef QKV_ABI_EXPORT
  napi_set_named_property(env, exports, "abi", abi);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, ModuleInit)
