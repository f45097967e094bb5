// Threads for work that must not stall a loop: private-key operations (PoolSigner) and reading
// certificates from disk for a hello decision (CertificateDirectory).
#pragma once

#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace tls {

/// Owned by whoever starts it, through shared_ptr: an application that offloads signatures makes
/// one and names it in every ServerConfig (tls::ServerConfig::workers) so reloads reuse it; a
/// Context or CertificateDirectory given none starts its own. The last owner's release stops the
/// threads after the tasks already queued ran, in an ordinary destructor, never at static
/// destruction. Thread-safety: submit() from any thread.
class WorkerPool {
 public:
  /// `threads` 0: one per core.
  explicit WorkerPool(unsigned threads = 0);
  /// Runs what is queued, then joins the threads. When the last reference is dropped by a task
  /// on one of the pool's own threads (a task that held the last owner of the pool), the threads
  /// are detached instead and end on their own once the queue is empty.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues `task` for the next free thread. Tasks must not block for long: signatures wait
  /// behind them. A task that throws is dropped with its exception (logged).
  void submit(std::function<void()> task);
  /// Threads in the pool, fixed at construction.
  std::size_t size() const noexcept { return threads_.size(); }

 private:
  struct Queue;
  std::shared_ptr<Queue> queue_;  ///< shared with the threads, which may outlive a detaching pool
  std::vector<std::thread> threads_;
};

}  // namespace tls
