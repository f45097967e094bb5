// Readiness of a descriptor the reactor does not own (an OpenSSL async fd, an eventfd).
#pragma once

#include <functional>

#include "reactor/Error.hpp"
#include "reactor/detail/HandleOwner.hpp"

namespace reactor {

class Loop;

/// Owned by the application, which also owns the descriptor: Poll never closes it, and the
/// descriptor must stay open until this object is destroyed. Loop thread only.
class Poll final : public detail::HandleOwner {
 public:
  /// Readiness bits, for start()'s mask and the callback's `events`.
  enum Events : int { readable = 1, writable = 2 };
  /// Runs on the loop thread with the ready Events, or with an error (then `events` is 0 and the
  /// watch has stopped); may stop() or destroy the Poll.
  using Callback = std::function<void(int events, const Error& error)>;

  /// Watches nothing until start(). `fd` must be a socket or pipe in non-blocking mode (libuv's
  /// uv_poll_t); if it cannot be watched, error() says why.
  Poll(Loop& loop, int fd);
  ~Poll();
  Poll(const Poll&) = delete;
  Poll& operator=(const Poll&) = delete;

  /// The descriptor given to the constructor (still the caller's).
  int fd() const noexcept { return fd_; }
  /// Set when the descriptor could not be watched (for example a closed fd).
  const Error& error() const noexcept { return error_; }
  /// Calls fn with the ready events (a mask of Events) until stop().
  Error start(int events, Callback fn);
  /// No more callbacks until the next start(); the descriptor stays open. Safe from inside the
  /// callback.
  void stop();

 private:
  void on_loop_closing() noexcept override;
  static void on_poll(uv_poll_s* handle, int status, int events) noexcept;

  detail::OwnedHandle<uv_poll_s> handle_;
  Callback fn_;
  Error error_;
  int fd_;
};

}  // namespace reactor
