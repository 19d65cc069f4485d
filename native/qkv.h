// The interface between the N-API glue (addon.cc), the thread pool (pool.cc) and the kernels,
// which are compiled once per instruction set (isa_avx2.cc, isa_scalar.cc) from the family files
// in kernels/ (kernels/table.inc lists them).
//
// Everything here is plain C types and function pointers: no inline code and no templates,
// so nothing compiled for AVX2 can be shared (through the linker's de-duplication of inline
// functions) with code that must run on a CPU without it.
#pragma once
#include <stdint.h>

namespace qkv {

constexpr int MAXDIM = 16;

// ---- thread pool (pool.cc) -----------------------------------------------------------------
typedef void (*TaskFn)(void* ctx, int64_t task, int thread);
// Runs fn(ctx, t, thread) for t in [0, ntasks) on the pool; the caller is thread 0 and takes
// part. Returns when every task is done. Nested calls (from inside a task) run serially.
void parallel_for(int64_t ntasks, void* ctx, TaskFn fn);
int num_threads();        // threads a parallel_for may use (≥ 1)
void set_num_threads(int n);

// ---- op codes: the order of UNARY_OPS / BINARY_OPS in src/backend/backend.ts ----------------
enum UnaryOp {
  U_NEG, U_ABS, U_SIGN, U_SQUARE, U_RECIPROCAL, U_EXP, U_LOG, U_SQRT, U_RSQRT,
  U_TANH, U_SIGMOID, U_RELU, U_GELU, U_GELU_TANH, U_SIN, U_COS, U_ERF, U_FLOOR, U_CEIL, U_ROUND,
  U_COUNT
};
enum BinaryOp {
  B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAXIMUM, B_MINIMUM, B_ATAN2,
  B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE, B_AND, B_OR,
  B_RELU_BWD, B_GELU_BWD, B_GELU_TANH_BWD, B_SIGMOID_BWD, B_TANH_BWD,
  B_COUNT
};
enum ReduceOp { R_SUM, R_MAX, R_MIN };

// A strided operand: base pointer (offset applied) and one stride per dim, in elements.
struct Operand {
  void* p;
  const int64_t* strides;
};

// An index array: int64 (stored as float64) or int32.
struct Index {
  const void* p;
  int is_f64;
};

struct AdamArgs {
  double lr, beta1, beta2, eps, weight_decay;
  double step;
  int decoupled, maximize;
};

struct AttentionArgs {
  int nbatch;                    // batch dims (after the shared leading dims), ≤ MAXDIM − 2
  const int64_t* batch;          // [nbatch]
  int64_t L, S, D, Dv;
  // q (…, L, D), k (…, S, D), v (…, S, Dv): batch strides then the two trailing strides.
  const float *q, *k, *v;
  const int64_t *qs, *ks, *vs;   // each [nbatch + 2]
  const float* mask;             // additive (…, L, S) or null
  const int64_t* ms;             // [nbatch + 2]
  int causal;
  float scale;
  float* out;                    // contiguous (…, L, Dv)
  float* lse;                    // contiguous (…, L)
  // backward only
  const float* gout;             // (…, L, Dv), strides gs
  const int64_t* gs;
  float *gq, *gk, *gv;           // shapes of q, k, v (batch-expanded), unit stride on the last dim
  const int64_t *gqs, *gks, *gvs; // [nbatch + 2]
};

struct Kernels {
  const char* isa;
  void (*unary)(int op, int ndim, const int64_t* shape, Operand x, Operand y);
  // out is float32, or uint8 (bool) for the comparisons and logical ops.
  void (*binary)(int op, int ndim, const int64_t* shape, Operand a, Operand b, Operand out);
  void (*where)(int ndim, const int64_t* shape, Operand cond, Operand a, Operand b, Operand out);
  void (*copy)(int ndim, const int64_t* shape, Operand src, Operand dst);
  // Reduces x over the dims flagged in `reduced` into contiguous out (kept dims, in order).
  void (*reduce)(int op, int ndim, const int64_t* shape, const uint8_t* reduced, Operand x, float* out);
  // out[b] = a[b] @ b[b] (+ bias[n] when bias is not null); batch dims with their strides
  // (stride 0 = broadcast), out contiguous.
  void (*matmul)(int nbatch, const int64_t* batch, int64_t M, int64_t N, int64_t K,
                 const float* a, const int64_t* as, const float* b, const int64_t* bs, float* out,
                 const float* bias);
  void (*index_select)(const float* table, int64_t E, Index idx, int64_t n, float* out);
  void (*index_add)(float* dst, int64_t E, Index idx, int64_t n, const float* src);
  void (*softmax)(const float* x, int64_t outer, int64_t n, int64_t inner, int log, float* out);
  void (*softmax_backward)(const float* y, const float* gy, int64_t outer, int64_t n, int64_t inner, int log, float* gx);
  void (*layer_norm)(const float* x, const float* w, const float* b, int64_t N, int64_t D, float eps,
                     float* out, float* mean, float* rstd);
  void (*layer_norm_backward)(const float* gy, const float* x, const float* w, const float* mean, const float* rstd,
                              int64_t N, int64_t D, float* gx, float* gw, float* gb);
  // Returns the first row whose target is out of range (not ignore_index), or −1.
  int64_t (*cross_entropy)(const float* x, Index t, int64_t N, int64_t C, int64_t ignore_index, float smoothing,
                           float* loss, float* lse);
  void (*cross_entropy_backward)(const float* x, Index t, const float* lse, const float* gloss, int64_t N, int64_t C,
                                 int64_t ignore_index, float smoothing, float* gx);
  void (*adam_step)(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamArgs* a);
  void (*attention)(const AttentionArgs* a);
  void (*attention_backward)(const AttentionArgs* a);
};

const Kernels* kernels_avx2();
const Kernels* kernels_scalar();

}  // namespace qkv
