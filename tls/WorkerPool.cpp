#include "tls/WorkerPool.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>

namespace tls {

struct WorkerPool::Queue {
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<std::function<void()>> tasks;
  bool stopping = false;

  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex);
        ready.wait(lock, [&] { return stopping || !tasks.empty(); });
        if (tasks.empty()) return;  // stopping, and nothing left to do
        task = std::move(tasks.front());
        tasks.pop_front();
      }
      try {
        task();
      } catch (const std::exception& e) {
        // tls_engine has no logger (it does not depend on the reactor): stderr, as OpenSSL would.
        std::fprintf(stderr, "tlsreactor: a worker task threw: %s\n", e.what());
      } catch (...) {
        std::fprintf(stderr, "tlsreactor: a worker task threw a non-standard exception\n");
      }
    }
  }
};

WorkerPool::WorkerPool(unsigned threads) : queue_(std::make_shared<Queue>()) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([queue = queue_] { queue->work(); });
}

WorkerPool::~WorkerPool() {
  {
    const std::lock_guard lock(queue_->mutex);
    queue_->stopping = true;
  }
  queue_->ready.notify_all();
  const auto self = std::this_thread::get_id();
  const bool on_own_thread = std::any_of(threads_.begin(), threads_.end(),
                                         [&](const std::thread& t) { return t.get_id() == self; });
  for (auto& t : threads_) {
    if (on_own_thread)
      t.detach();  // joining ourselves would deadlock; each thread holds the queue it needs
    else
      t.join();
  }
}

void WorkerPool::submit(std::function<void()> task) {
  {
    const std::lock_guard lock(queue_->mutex);
    queue_->tasks.push_back(std::move(task));
  }
  queue_->ready.notify_one();
}

}  // namespace tls
