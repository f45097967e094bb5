#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include <atomic>
#include <thread>

#include "reactor/Loop.hpp"
#include "reactor/Timer.hpp"
#include "tests/support/Watchdog.hpp"

using namespace std::chrono_literals;

TEST_CASE("a loop with nothing to do returns from run and closes cleanly") {
  reactor::Loop loop;
  loop.run();
  CHECK(loop.connection_count() == 0);
  CHECK(loop.close() == 0);
  CHECK(loop.close() == 0);  // idempotent
}

TEST_CASE("post from another thread runs on the loop thread, in order") {
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 5000ms);
  const auto loop_thread = std::this_thread::get_id();
  std::vector<int> seen;
  std::atomic<bool> wrong_thread{false};
  // Keep the loop alive until the last posted function ran.
  reactor::Timer keep_alive(loop);
  keep_alive.start(60s, 0ms, [] {});
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i)
      loop.post([&, i] {
        if (std::this_thread::get_id() != loop_thread) wrong_thread = true;
        seen.push_back(i);
        if (i == 99) loop.stop();
      });
  });
  loop.run();
  producer.join();
  REQUIRE(seen.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(seen[static_cast<std::size_t>(i)] == i);
  CHECK_FALSE(wrong_thread.load());
  dog.reset();
  keep_alive.stop();
  CHECK(loop.close() == 0);
}

TEST_CASE("post does not keep an idle loop alive, and posts after close are dropped") {
  reactor::Loop loop;
  bool ran = false;
  loop.post([&] { ran = true; });
  loop.run();  // returns at once: an unreferenced post door keeps nothing alive
  CHECK_FALSE(ran);
  reactor::Timer keep_alive(loop);
  keep_alive.start(std::chrono::minutes(1), 0ms, [] {});
  loop.post([&] { loop.stop(); });
  loop.run();  // now the loop polls, and the earlier post runs too
  CHECK(ran);
  keep_alive.stop();
  CHECK(loop.close() == 0);
  bool late = false;
  loop.post([&] { late = true; });
  CHECK_FALSE(late);
}

TEST_CASE("a posted function that throws is contained and the loop goes on") {
  reactor::Loop loop;
  reactor::Timer keep_alive(loop);
  keep_alive.start(std::chrono::minutes(1), 0ms, [] {});
  bool after = false;
  loop.post([] { throw std::runtime_error("boom"); });
  loop.post([&] {
    after = true;
    loop.stop();
  });
  loop.run();
  CHECK(after);
  keep_alive.stop();
  CHECK(loop.close() == 0);
}

TEST_CASE("teardown closes handles the application still holds, and their owners survive it") {
  auto loop = std::make_unique<reactor::Loop>();
  reactor::Timer timer(*loop);
  bool fired = false;
  timer.start(10min, 0ms, [&] { fired = true; });
  CHECK(timer.active());
  CHECK(loop->close() == 0);  // the timer's handle was closed and freed by the teardown
  CHECK_FALSE(timer.active());
  timer.stop();  // harmless once the loop closed it
  CHECK_FALSE(fired);
}
