#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "reactor/Loop.hpp"
#include "reactor/Timer.hpp"
#include "reactor/WheelTimer.hpp"
#include "tests/support/Pair.hpp"

using test_support::Pair;
using test_support::Recorder;

namespace {

std::vector<std::string>* destroyed = nullptr;

struct Counter {
  int value = 0;
};

// Holds a libuv handle of its own, as a per-loop pool with a sweep timer does.
struct WithTimer {
  explicit WithTimer(reactor::Loop& loop) : timer(loop) {}
  ~WithTimer() { destroyed->push_back("timer"); }
  reactor::Timer timer;
};

struct Named {
  ~Named() { destroyed->push_back("named"); }
};

}  // namespace

TEST_CASE("Loop::local gives one instance per loop, not per thread") {
  reactor::Loop a;
  reactor::Loop b;
  a.local<Counter>().value = 7;
  CHECK(a.local<Counter>().value == 7);
  CHECK(&a.local<Counter>() == &a.local<Counter>());
  CHECK(b.local<Counter>().value == 0);
  CHECK(&a.local<Counter>() != &b.local<Counter>());
  CHECK(a.close() == 0);
  CHECK(b.close() == 0);
}

TEST_CASE("per-loop objects die with the loop, newest first, after connections closed") {
  std::vector<std::string> order;
  destroyed = &order;
  Pair p;
  bool local_alive_at_close = false;
  p.script_server = [&](Recorder& h) {
    // Both connections are open once the client's byte arrives: stop there and close the loop
    // under them.
    h.data = [&](reactor::Connection&, std::span<const std::byte>) {
      p.loop.local<Named>();
      p.loop.local<WithTimer>().timer.start(std::chrono::hours(1), {}, [] {});
      p.loop.stop();
    };
    h.closed = [&](reactor::Connection&, const reactor::Error&) {
      local_alive_at_close = order.empty();
    };
  };
  p.script_client = [](Recorder& h) { h.open = [](reactor::Connection& c) { c.write("x"); }; };
  p.run();
  REQUIRE(p.server->data == "x");
  // The started timer and the live connections are closed by the loop's teardown; the timer's
  // owner is destroyed after them, and the loop still closes with nothing left open.
  CHECK(p.close() == 0);
  CHECK(local_alive_at_close);
  CHECK(order == std::vector<std::string>{"timer", "named"});
  destroyed = nullptr;
}

TEST_CASE("a WheelTimer fires when armed, not once stopped, and may re-arm itself") {
  using namespace std::chrono_literals;
  reactor::Loop loop;
  int stopped_fired = 0;
  int fired = 0;
  reactor::WheelTimer stopped(loop, [&] { ++stopped_fired; });
  std::optional<reactor::WheelTimer> again;
  again.emplace(loop, [&] {
    if (++fired < 3)
      again->start(10ms);
    else
      loop.stop();
  });
  stopped.start(10ms);
  again->start(10ms);
  stopped.stop();
  CHECK_FALSE(stopped.active());
  CHECK(again->active());
  // The wheel's own tick does not keep the loop alive; this timer does, and is the hang guard.
  reactor::Timer guard(loop);
  guard.start(20s, {}, [&] { loop.stop(); });
  loop.run();
  CHECK(fired == 3);
  CHECK(stopped_fired == 0);
  CHECK_FALSE(again->active());
  guard.stop();
  CHECK(loop.close() == 0);
}
