#include <doctest/doctest.h>

#include <memory>

#include "reactor/Loop.hpp"
#include "reactor/Timer.hpp"
#include "tests/support/Watchdog.hpp"

using namespace std::chrono_literals;

TEST_CASE("a one-shot timer fires once, no earlier than its delay") {
  reactor::Loop loop;
  int fired = 0;
  const auto start = loop.now();
  std::uint64_t at = 0;
  {
    reactor::Timer timer(loop);
    timer.start(30ms, 0ms, [&] {
      ++fired;
      at = loop.now();
    });
    loop.run();
  }
  CHECK(fired == 1);
  CHECK(at - start >= 30);
  CHECK(loop.close() == 0);
}

TEST_CASE("a repeating timer repeats until stopped from its own callback") {
  reactor::Loop loop;
  test_support::Watchdog dog(loop, 5000ms);
  reactor::Timer timer(loop);
  int fired = 0;
  timer.start(1ms, 1ms, [&] {
    if (++fired == 5) timer.stop();
  });
  dog.stop();
  loop.run();
  CHECK(fired == 5);
  CHECK(loop.close() == 0);
}

TEST_CASE("a timer may be destroyed inside its own callback") {
  reactor::Loop loop;
  auto timer = std::make_unique<reactor::Timer>(loop);
  bool fired = false;
  timer->start(1ms, 1ms, [&] {
    fired = true;
    timer.reset();
  });
  loop.run();
  CHECK(fired);
  CHECK_FALSE(timer);
  CHECK(loop.close() == 0);
}

TEST_CASE("an unreferenced timer does not keep run() going") {
  reactor::Loop loop;
  reactor::Timer timer(loop);
  bool fired = false;
  timer.start(10min, 0ms, [&] { fired = true; });
  timer.unref();
  loop.run();
  CHECK_FALSE(fired);
  CHECK(loop.close() == 0);
}
