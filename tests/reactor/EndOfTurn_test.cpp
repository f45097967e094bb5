#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "reactor/EndOfTurn.hpp"
#include "reactor/Loop.hpp"
#include "reactor/Timer.hpp"

using namespace std::chrono_literals;

TEST_CASE("an end-of-turn callback runs once in a turn however often that turn asked for it") {
  reactor::Loop loop;
  std::vector<std::string> calls;
  reactor::EndOfTurn flush(loop, [&] { calls.emplace_back("flush"); });
  reactor::EndOfTurn thrower(loop, [&] {
    calls.emplace_back("thrower");
    throw std::runtime_error("from a test");
  });
  reactor::EndOfTurn after(loop, [&] { calls.emplace_back("after"); });
  flush.request();
  thrower.request();
  flush.request();
  after.request();
  flush.request();
  CHECK(flush.requested());
  // One iteration that does not wait for I/O.
  loop.run_once(false);
  // In the order first asked; a throwing callback does not stop the others.
  CHECK(calls == std::vector<std::string>{"flush", "thrower", "after"});
  CHECK_FALSE(flush.requested());
  // Not asked again: nothing in the next turn.
  loop.run_once(false);
  CHECK(calls.size() == 3);
  CHECK(loop.close() == 0);
}

TEST_CASE("an end-of-turn callback never runs once its owner died or cancelled it") {
  reactor::Loop loop;
  int victim_calls = 0;
  int cancelled_calls = 0;
  std::optional<reactor::EndOfTurn> victim;
  victim.emplace(loop, [&] { ++victim_calls; });
  // Runs first in the turn and destroys a registration that is still pending in that turn.
  reactor::EndOfTurn killer(loop, [&] { victim.reset(); });
  std::optional<reactor::EndOfTurn> gone;
  gone.emplace(loop, [&] { FAIL("a destroyed registration ran"); });
  reactor::EndOfTurn cancelled(loop, [&] { ++cancelled_calls; });
  killer.request();
  victim->request();
  gone->request();
  gone.reset();
  cancelled.request();
  cancelled.cancel();
  loop.run_once(false);
  CHECK_FALSE(victim.has_value());
  CHECK(victim_calls == 0);
  CHECK(cancelled_calls == 0);
  CHECK(loop.close() == 0);
}

TEST_CASE(
    "an end-of-turn callback that asks again runs again in the next turn, without waiting "
    "for I/O") {
  reactor::Loop loop;
  int calls = 0;
  std::optional<reactor::EndOfTurn> again;
  again.emplace(loop, [&] {
    if (++calls < 3) again->request();
  });
  // Nothing else on the loop can wake it: a turn that waited for I/O would wait until the hang
  // guard fires (every 10 s, so that each blocked turn ends).
  bool guard_fired = false;
  reactor::Timer guard(loop);
  guard.start(10s, 10s, [&] { guard_fired = true; });
  again->request();
  loop.run_once(true);
  CHECK(calls == 1);
  loop.run_once(true);
  CHECK(calls == 2);
  loop.run_once(true);
  CHECK(calls == 3);
  CHECK_FALSE(again->requested());
  CHECK_FALSE(guard_fired);
  guard.stop();
  CHECK(loop.close() == 0);
}

TEST_CASE("a closing loop drops pending end-of-turn calls and still closes every handle") {
  reactor::Loop loop;
  int calls = 0;
  reactor::EndOfTurn pending(loop, [&] { ++calls; });
  pending.request();
  CHECK(loop.close() == 0);
  CHECK(calls == 0);
  CHECK_FALSE(pending.requested());
}
