// Delivery of a Unix signal (SIGINT, SIGTERM, ...) as a callback on a loop.
#pragma once

#include <functional>

#include "reactor/detail/HandleOwner.hpp"

namespace reactor {

class Loop;

/// Owned by the application; destroying it stops watching. Loop thread only.
class Signal final : public detail::HandleOwner {
 public:
  /// Watches nothing until start(). The loop must outlive it.
  explicit Signal(Loop& loop);
  ~Signal();
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;

  /// Watches `signum`; fn(signum) runs on the loop thread each time it arrives.
  void start(int signum, std::function<void(int)> fn);
  /// No more callbacks until the next start(); the signal's disposition goes back to what it was.
  /// Safe from inside the callback.
  void stop();
  /// An unreferenced watcher does not keep Loop::run() from returning.
  void unref();

 private:
  void on_loop_closing() noexcept override;
  static void on_signal(uv_signal_s* handle, int signum) noexcept;

  detail::OwnedHandle<uv_signal_s> handle_;
  std::function<void(int)> fn_;
};

}  // namespace reactor
