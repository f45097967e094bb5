// One coarse timer per loop for every per-connection deadline (connect, idle, close), instead
// of a libuv timer per connection: a deadline costs one list node and resetting it on every
// read is a single store. Resolution is one tick (100 ms), which is fine for timeouts measured
// in seconds.
#pragma once

#include <array>
#include <cstdint>

#include "reactor/detail/IntrusiveList.hpp"

struct uv_timer_s;
struct uv_loop_s;

namespace reactor::detail {

class TimerWheel;

/// Something with a deadline. Embedded in its owner; unlinks itself when destroyed.
class Deadline : private ListNode {
 public:
  Deadline() = default;
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  std::uint64_t at() const noexcept { return at_; }

 protected:
  /// Owners cancel before they die; this only keeps a forgotten entry out of the wheel.
  virtual ~Deadline();
  /// Called from the wheel's sweep once the deadline has passed; the entry is already unlinked.
  virtual void on_deadline() noexcept = 0;

 private:
  friend class TimerWheel;
  TimerWheel* wheel_ = nullptr;
  std::uint64_t at_ = 0;         ///< absolute loop time in ms; 0 = none
  std::uint64_t slot_tick_ = 0;  ///< the tick whose slot holds the node
};

class TimerWheel {
 public:
  static constexpr std::uint64_t tick_ms = 100;
  static constexpr std::size_t slots = 512;

  TimerWheel(uv_loop_s* loop, uv_timer_s* timer);
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  /// Sets (at > 0) or clears (at == 0) the deadline. Moving a deadline later is a store: the
  /// sweep re-files entries whose deadline moved since they were filed.
  void schedule(Deadline& d, std::uint64_t at) noexcept;
  void cancel(Deadline& d) noexcept { schedule(d, 0); }
  std::size_t pending() const noexcept { return pending_; }

  /// Called by the loop's tick timer.
  void sweep(std::uint64_t now) noexcept;

 private:
  static std::uint64_t tick_of(std::uint64_t at) noexcept { return (at + tick_ms - 1) / tick_ms; }
  void file(Deadline& d) noexcept;
  void update_timer() noexcept;

  uv_loop_s* loop_;
  uv_timer_s* timer_;
  std::array<List, slots> wheel_;
  std::uint64_t swept_tick_;  ///< every tick up to and including this one has been processed
  std::size_t pending_ = 0;
  bool running_ = false;
};

}  // namespace reactor::detail
