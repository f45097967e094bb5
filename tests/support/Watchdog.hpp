// The in-loop guard every loop-running test has: a hung test must fail inside the loop and
// stop it, not sit there until CTest's TIMEOUT kills the whole process without a word.
#pragma once

#include <doctest/doctest.h>

#include <chrono>

#include "reactor/Loop.hpp"
#include "reactor/Timer.hpp"

namespace test_support {

// Loop thread only (it owns a reactor::Timer). Destroy it before Loop::close().
class Watchdog {
 public:
  Watchdog(reactor::Loop& loop, std::chrono::milliseconds limit) : timer_(loop) {
    timer_.start(limit, std::chrono::milliseconds(0), [&loop, limit] {
      FAIL_CHECK("watchdog: the loop was still running after " << limit.count() << " ms");
      loop.stop();
    });
  }
  void stop() { timer_.stop(); }

 private:
  reactor::Timer timer_;
};

}  // namespace test_support
