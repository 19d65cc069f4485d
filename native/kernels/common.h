// Shared by every kernel family: the thread-pool front end (run_tasks, task_count), per-thread
// scratch buffers, and strided iteration over several operands (collapse, drive).
//
// Like every file in native/kernels/, this is compiled once per instruction set: table.inc
// includes it after isa_avx2.cc or isa_scalar.cc has chosen the ISA and the namespace QKV_NS.
// Everything has internal linkage (an anonymous namespace), so the AVX2 and the scalar builds
// never share a symbol; only kernels_<isa>() is exported.
//
// Conventions of all kernels: strides and offsets are in elements; float32 data; every SIMD
// loop has a scalar tail; results do not depend on the thread count (work is split so that no
// element's arithmetic order changes with it).
#ifndef QKV_NS
#error "define QKV_NS (and the ISA) before including the kernels (see table.inc)"
#endif
#pragma once
#include "../qkv.h"
#include "../simd.h"

namespace qkv {
namespace QKV_NS {
namespace {

// Tasks, scratch memory, strided iteration

template <class F>
void run_tasks(int64_t n, F& f) {
  if (n <= 0) return;
  if (n == 1 || num_threads() == 1) {
    for (int64_t t = 0; t < n; t++) f(t, 0);
    return;
  }
  parallel_for(n, &f, [](void* c, int64_t t, int th) { (*static_cast<F*>(c))(t, th); });
}

// How many tasks to split `work` units of cheap elementwise work into.
int64_t task_count(int64_t work, int64_t grain) {
  int nt = num_threads();
  if (nt <= 1 || work < 2 * grain) return 1;
  int64_t t = work / grain;
  int64_t cap = 4 * (int64_t)nt;
  return t < cap ? t : cap;
}

// A per-thread growable, 64-byte aligned buffer.
struct Scratch {
  float* p = nullptr;
  size_t cap = 0;
  ~Scratch() { free(p); }
  float* get(size_t n) {
    if (n > cap) {
      free(p);
      size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
      void* q = nullptr;
      if (posix_memalign(&q, 64, bytes) != 0) q = nullptr;
      p = static_cast<float*>(q);
      cap = p ? n : 0;
      if (!p) abort();
    }
    return p;
  }
};

thread_local Scratch tl_pack_a, tl_pack_b, tl_work1, tl_work2, tl_work3;

// Several operands over one shape, with size-1 dims dropped and mergeable neighbours merged
// (dims i, i+1 merge when stride[i] = stride[i+1]·size[i+1] for every operand).
struct Iter {
  int nd = 0, nops = 0;
  int64_t shape[MAXDIM];
  int64_t st[4][MAXDIM];
};

// False when the shape has no elements.
bool collapse(int ndim, const int64_t* shape, int nops, const int64_t* const* strides, Iter& it) {
  it.nd = 0;
  it.nops = nops;
  for (int d = 0; d < ndim; d++) {
    int64_t size = shape[d];
    if (size == 0) return false;
    if (size == 1) continue;
    int last = it.nd - 1;
    bool merge = last >= 0;
    for (int k = 0; merge && k < nops; k++) merge = it.st[k][last] == strides[k][d] * size;
    if (merge) {
      it.shape[last] *= size;
      for (int k = 0; k < nops; k++) it.st[k][last] = strides[k][d];
    } else {
      it.shape[it.nd] = size;
      for (int k = 0; k < nops; k++) it.st[k][it.nd] = strides[k][d];
      it.nd++;
    }
  }
  if (it.nd == 0) {
    it.nd = 1;
    it.shape[0] = 1;
    for (int k = 0; k < nops; k++) it.st[k][0] = 0;
  }
  return true;
}

// Calls f(off, n) for runs of the innermost dim (off: one element offset per operand; the run
// has length n and the operands' innermost strides). Splits rows, or a long single row, into
// tasks when there is enough work.
template <class F>
void drive(const Iter& it, F&& f) {
  const int nd = it.nd, nops = it.nops;
  const int64_t n = it.shape[nd - 1];
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; d++) rows *= it.shape[d];
  auto do_rows = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    int64_t off[4] = {0, 0, 0, 0}, idx[MAXDIM];
    int64_t r = r0;
    for (int d = nd - 2; d >= 0; d--) {
      idx[d] = r % it.shape[d];
      r /= it.shape[d];
      for (int k = 0; k < nops; k++) off[k] += idx[d] * it.st[k][d];
    }
    for (int64_t row = r0; row < r1; row++) {
      int64_t o2[4];
      for (int k = 0; k < nops; k++) o2[k] = off[k] + c0 * it.st[k][nd - 1];
      f(o2, c1 - c0);
      for (int d = nd - 2; d >= 0; d--) {
        idx[d]++;
        for (int k = 0; k < nops; k++) off[k] += it.st[k][d];
        if (idx[d] < it.shape[d]) break;
        for (int k = 0; k < nops; k++) off[k] -= it.st[k][d] * it.shape[d];
        idx[d] = 0;
      }
    }
  };
  int64_t ntasks = task_count(rows * n, 16384);
  if (ntasks == 1) {
    do_rows(0, rows, 0, n);
  } else if (rows >= ntasks) {
    auto task = [&](int64_t t, int) { do_rows(rows * t / ntasks, rows * (t + 1) / ntasks, 0, n); };
    run_tasks(ntasks, task);
  } else {
    // Few long rows: split each row into column chunks (multiples of W).
    int64_t per = (ntasks + rows - 1) / rows;
    int64_t chunk = ((n + per - 1) / per + W - 1) / W * W;
    int64_t nchunks = (n + chunk - 1) / chunk;
    auto task = [&](int64_t t, int) {
      int64_t row = t / nchunks, c = t % nchunks;
      int64_t c0 = c * chunk, c1 = c0 + chunk < n ? c0 + chunk : n;
      do_rows(row, row + 1, c0, c1);
    };
    run_tasks(rows * nchunks, task);
  }
}

}  // namespace
}  // namespace QKV_NS
}  // namespace qkv
