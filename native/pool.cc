// A small persistent thread pool: nthreads − 1 workers plus the calling thread.
//
// parallel_for publishes a job (function, context, task count) and bumps a generation counter;
// workers spin on it briefly (ops arrive microseconds apart during training) and then sleep on a
// condition variable. Tasks are claimed with an atomic counter, so a slow or descheduled core
// simply takes fewer of them. The caller returns once every worker has checked out of the job.
// One job runs at a time: a second caller (another worker_thread's addon instance, or a nested
// call from inside a task) runs its tasks serially instead of waiting.
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
  std::atomic<uint64_t> gen{0};
  std::atomic<int64_t> next{0};
  std::atomic<int> active{0};
  std::atomic<int> sleepers{0};
  int64_t ntasks = 0;
  void* ctx = nullptr;
  TaskFn fn = nullptr;
  bool stop = false;
  int nthreads = 1;
  std::mutex call;
};

// Leaked on purpose: worker threads may still be parked when the process exits, and a
// destroyed std::thread that is joinable would terminate the process.
Pool* pool = new Pool();
thread_local bool in_task = false;

constexpr auto SPIN = std::chrono::microseconds(300);

void worker_main(Pool* p, int id) {
  uint64_t seen = p->gen.load(std::memory_order_acquire);
  for (;;) {
    // Spin for a while, then sleep until the generation changes.
    auto t0 = std::chrono::steady_clock::now();
    uint32_t spins = 0;
    while (p->gen.load(std::memory_order_acquire) == seen) {
      QKV_PAUSE();
      if ((++spins & 255) == 0 && std::chrono::steady_clock::now() - t0 > SPIN) {
        std::unique_lock<std::mutex> lk(p->m);
        p->sleepers.fetch_add(1);
        p->cv.wait(lk, [&] { return p->stop || p->gen.load(std::memory_order_acquire) != seen; });
        p->sleepers.fetch_sub(1);
        break;
      }
    }
    {
      // stop is only written under the mutex.
      std::lock_guard<std::mutex> lk(p->m);
      if (p->stop) return;
    }
    seen = p->gen.load(std::memory_order_acquire);
    in_task = true;
    for (;;) {
      int64_t t = p->next.fetch_add(1, std::memory_order_relaxed);
      if (t >= p->ntasks) break;
      p->fn(p->ctx, t, id);
    }
    in_task = false;
    p->active.fetch_sub(1, std::memory_order_release);
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
  if (ntasks == 1 || p->nthreads <= 1 || in_task || !p->call.try_lock()) {
    for (int64_t t = 0; t < ntasks; t++) fn(ctx, t, 0);
    return;
  }
  p->ntasks = ntasks;
  p->ctx = ctx;
  p->fn = fn;
  p->next.store(0, std::memory_order_relaxed);
  p->active.store((int)p->workers.size(), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lk(p->m);
    p->gen.fetch_add(1, std::memory_order_release);
  }
  if (p->sleepers.load() > 0) p->cv.notify_all();
  in_task = true;
  for (;;) {
    int64_t t = p->next.fetch_add(1, std::memory_order_relaxed);
    if (t >= ntasks) break;
    fn(ctx, t, 0);
  }
  in_task = false;
  while (p->active.load(std::memory_order_acquire) > 0) QKV_PAUSE();
  p->call.unlock();
}

}  // namespace qkv
