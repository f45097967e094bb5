#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "reactor/Loop.hpp"
#include "reactor/Work.hpp"

TEST_CASE("queued work runs off the loop thread and completes on it") {
  reactor::Loop loop;
  const auto loop_thread = std::this_thread::get_id();
  std::atomic<bool> ran_elsewhere{false};
  int completions = 0;
  bool completed_on_loop = false;
  for (int i = 0; i < 8; ++i)
    reactor::queue_work(
        loop, [&] { ran_elsewhere = std::this_thread::get_id() != loop_thread; },
        [&](bool cancelled) {
          CHECK_FALSE(cancelled);
          ++completions;
          completed_on_loop = std::this_thread::get_id() == loop_thread;
        });
  loop.run();  // pending work keeps the loop alive until every completion ran
  CHECK(completions == 8);
  CHECK(ran_elsewhere.load());
  CHECK(completed_on_loop);
  CHECK(loop.close() == 0);
}

TEST_CASE("closing the loop waits for queued work and still runs each completion once") {
  reactor::Loop loop;
  int completions = 0;
  for (int i = 0; i < 4; ++i)
    reactor::queue_work(
        loop, [] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); },
        [&](bool) { ++completions; });
  CHECK(loop.close() == 0);
  CHECK(completions == 4);
}
