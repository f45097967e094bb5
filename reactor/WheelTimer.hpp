// A one-shot deadline on the loop's coarse wheel (one libuv timer per loop, 100 ms ticks): for
// the timeouts of connections and requests (handshake, headers, body, response, close), which
// are measured in seconds and are usually re-armed or cancelled long before they fire. Costs a
// list node instead of a libuv handle, so the handles a loop holds do not grow with the number
// of connections; re-arming it later is a store.
#pragma once

#include <chrono>
#include <functional>

#include "reactor/TimerWheel.hpp"

namespace reactor {

class Loop;

/// A member of its owner; destroying it disarms it. Loop thread only.
class WheelTimer final : private detail::Deadline {
 public:
  /// `on_expired` runs on the loop when an armed deadline passes (give or take a tick), the timer
  /// already disarmed; it may start() again or destroy the timer's owner. It should not throw:
  /// what it throws is logged and dropped (owners that run application code catch themselves and
  /// abort their connection). The loop must outlive the timer.
  WheelTimer(Loop& loop, std::function<void()> on_expired);
  ~WheelTimer() override = default;
  WheelTimer(const WheelTimer&) = delete;
  WheelTimer& operator=(const WheelTimer&) = delete;

  /// Arms (or re-arms) the deadline `delay` from the loop's current time.
  void start(std::chrono::milliseconds delay) noexcept;
  /// Disarms; on_expired will not run for the deadline that was set. Safe from inside on_expired.
  void stop() noexcept;
  /// Armed and not yet expired or stopped.
  bool active() const noexcept { return at() != 0; }

 private:
  void on_deadline() noexcept override;

  Loop& loop_;
  std::function<void()> on_expired_;
};

}  // namespace reactor
