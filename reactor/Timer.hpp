// A one-shot or repeating timer on a loop.
#pragma once

#include <chrono>
#include <functional>

#include "reactor/detail/HandleOwner.hpp"

namespace reactor {

class Loop;

/// Owned by the application. Destroying it stops it; the libuv handle's memory is released in
/// its close callback, after this object is gone. Loop thread only.
class Timer final : public detail::HandleOwner {
 public:
  /// Idle until start(); the loop must outlive it.
  explicit Timer(Loop& loop);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  /// (Re)starts: fn runs after `delay`, then every `repeat` if non-zero.
  void start(std::chrono::milliseconds delay, std::chrono::milliseconds repeat,
             std::function<void()> fn);
  /// fn will not run again until the next start(); safe from inside fn.
  void stop();
  /// Started and not stopped (a one-shot timer stops itself before its fn runs).
  bool active() const;
  /// A timer that is not referenced does not keep Loop::run() from returning.
  void unref();

 private:
  void on_loop_closing() noexcept override;
  static void on_timer(uv_timer_s* handle) noexcept;

  detail::OwnedHandle<uv_timer_s> handle_;
  std::function<void()> fn_;
};

}  // namespace reactor
