#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include <csignal>

#include "reactor/Loop.hpp"
#include "reactor/Signal.hpp"
#include "tests/support/Watchdog.hpp"

using namespace std::chrono_literals;

TEST_CASE("a watched signal arrives as a callback on the loop") {
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 5000ms);
  int got = 0;
  {
    reactor::Signal signal(loop);
    signal.start(SIGUSR1, [&](int signum) {
      got = signum;
      loop.stop();
    });
    loop.post([] { std::raise(SIGUSR1); });
    loop.run();
  }
  CHECK(got == SIGUSR1);
  dog.reset();
  CHECK(loop.close() == 0);
}
