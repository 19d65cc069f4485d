// A small persistent thread pool: nthreads − 1 workers plus the calling thread.
//
// parallel_for publishes a job (function, context, task count) under a new tag and wakes the
// workers, which spin briefly (ops arrive microseconds apart during training) and then sleep on
// a condition variable. Tasks are claimed with a compare-and-swap on one 64-bit word holding
// (tag, next task index): a claim succeeds only while its job is live, so the caller can return
// as soon as every task is *done*, without waiting for workers that never woke up — on a
// shared, busy machine a descheduled worker costs nothing, it simply takes no tasks. One job runs
// at a time: a second caller (a nested call from inside a task, or another thread) runs its
// tasks serially instead.
#include "qkv.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QKV_PAUSE() _mm_pause()
#else
#define QKV_PAUSE() ((void)0)
#endif

namespace qkv {
namespace {

struct Pool {
  std::vector<std::thread> workers;
  std::mutex m;
  std::condition_variable cv;
  // (tag << 32) | next task index; the tag changes with every job.
  std::atomic<uint64_t> word{0};
  std::atomic<int64_t> done{0};
  std::atomic<int> sleepers{0};
  std::atomic<int64_t> ntasks{0};
  void* ctx = nullptr;
  TaskFn fn = nullptr;
  std::atomic<bool> stop{false};
  int nthreads = 1;
  std::mutex call;
};

// Leaked on purpose: worker threads may still be parked when the process exits, and a
// destroyed std::thread that is joinable would terminate the process.
Pool* pool = new Pool();
thread_local bool in_task = false;

constexpr auto SPIN = std::chrono::microseconds(500);

// Claims and runs tasks of the job tagged `tag` until none are left (or the job is over).
void work(Pool* p, uint32_t tag, int id) {
  uint64_t w = p->word.load(std::memory_order_acquire);
  for (;;) {
    if ((uint32_t)(w >> 32) != tag) return;
    const int64_t t = (int64_t)(uint32_t)w;
    // Acquire: seeing a new job's ntasks implies seeing the closed word of the old job (below),
    // so a stale w cannot win the CAS.
    if (t >= p->ntasks.load(std::memory_order_acquire)) return;
    if (!p->word.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // The claim succeeded, so the job is live: its fields are this job's.
    p->fn(p->ctx, t, id);
    p->done.fetch_add(1, std::memory_order_acq_rel);
    w = p->word.load(std::memory_order_acquire);
  }
}

void worker_main(Pool* p, int id) {
  uint32_t seen = (uint32_t)(p->word.load(std::memory_order_acquire) >> 32);
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    uint32_t spins = 0;
    uint32_t tag;
    while ((tag = (uint32_t)(p->word.load(std::memory_order_acquire) >> 32)) == seen) {
      QKV_PAUSE();
      if ((++spins & 255) == 0 && std::chrono::steady_clock::now() - t0 > SPIN) {
        std::unique_lock<std::mutex> lk(p->m);
        p->sleepers.fetch_add(1);
        p->cv.wait(lk, [&] { return p->stop || (uint32_t)(p->word.load(std::memory_order_acquire) >> 32) != seen; });
        p->sleepers.fetch_sub(1);
        if (p->stop) return;
        t0 = std::chrono::steady_clock::now();
      }
    }
    seen = tag;
    in_task = true;
    work(p, tag, id);
    in_task = false;
  }
}

void stop_workers(Pool* p) {
  {
    std::lock_guard<std::mutex> lk(p->m);
    p->stop = true;
  }
  p->cv.notify_all();
  for (auto& t : p->workers) t.join();
  p->workers.clear();
  std::lock_guard<std::mutex> lk(p->m);
  p->stop = false;
}

}  // namespace

int num_threads() { return pool->nthreads; }

void set_num_threads(int n) {
  if (n < 1) n = 1;
  if (n > 256) n = 256;
  std::lock_guard<std::mutex> guard(pool->call);
  if (n == pool->nthreads && (int)pool->workers.size() == n - 1) return;
  stop_workers(pool);
  pool->nthreads = n;
  for (int i = 1; i < n; i++) pool->workers.emplace_back(worker_main, pool, i);
}

void parallel_for(int64_t ntasks, void* ctx, TaskFn fn) {
  if (ntasks <= 0) return;
  Pool* p = pool;
  if (ntasks == 1 || p->nthreads <= 1 || in_task || ntasks >= (int64_t)UINT32_MAX || !p->call.try_lock()) {
    for (int64_t t = 0; t < ntasks; t++) fn(ctx, t, 0);
    return;
  }
  // 1. Close the finished job: same tag, index past any task. A worker still holding a stale
  //    (old tag, index) then fails its CAS, even if it reads the new ntasks below.
  const uint32_t old = (uint32_t)(p->word.load(std::memory_order_relaxed) >> 32);
  p->word.store(((uint64_t)old << 32) | 0xFFFFFFFFu, std::memory_order_relaxed);
  // 2. The new job's fields (ntasks last, release: it orders the closing store before it).
  p->fn = fn;
  p->ctx = ctx;
  p->done.store(0, std::memory_order_relaxed);
  p->ntasks.store(ntasks, std::memory_order_release);
  // 3. Publish the new tag with index 0.
  const uint32_t tag = old + 1;
  {
    std::lock_guard<std::mutex> lk(p->m);
    p->word.store((uint64_t)tag << 32, std::memory_order_release);
  }
  if (p->sleepers.load() > 0) p->cv.notify_all();
  in_task = true;
  work(p, tag, 0);
  in_task = false;
  while (p->done.load(std::memory_order_acquire) < ntasks) QKV_PAUSE();
  p->call.unlock();
}

}  // namespace qkv
