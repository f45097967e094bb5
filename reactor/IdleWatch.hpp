// Tells its owner once it has seen no activity for a while, from the loop's coarse deadline
// wheel (one timer per loop, 100 ms ticks) rather than a libuv timer each. Meant for giving back
// what only a busy connection needs: touch() on every bit of activity is a store and a compare
// once the watch is armed, so it costs next to nothing on a hot path.
#pragma once

#include <chrono>

#include "reactor/TimerWheel.hpp"

namespace reactor {

class Loop;

/// Embedded in (or a base of) its owner; destroying it disarms it. Loop thread only.
class IdleWatch : private detail::Deadline {
 public:
  IdleWatch() = default;

  /// (Re)arms the watch: on_idle() runs once `quiet` has passed without another touch(), give or
  /// take a wheel tick. Touching again before that pushes the moment back.
  void touch(Loop& loop, std::chrono::milliseconds quiet) noexcept;

 protected:
  ~IdleWatch() override = default;
  /// Runs on the loop, the watch already disarmed; it may touch() again.
  virtual void on_idle() noexcept = 0;

 private:
  void on_deadline() noexcept final { on_idle(); }
};

}  // namespace reactor
