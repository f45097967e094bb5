// Exceptions never cross into libuv: a callback that belongs to no connection (a timer, a poll, a
// signal, a work's completion, a deadline, a posted function) and throws is logged, and the loop
// goes on serving. Without the catch in each trampoline the throw reaches a noexcept C callback
// and the whole test process ends in std::terminate.
#include <doctest/doctest.h>

#include <unistd.h>

#include <csignal>
#include <optional>
#include <stdexcept>

#include "reactor/Loop.hpp"
#include "reactor/Poll.hpp"
#include "reactor/Signal.hpp"
#include "reactor/Timer.hpp"
#include "reactor/WheelTimer.hpp"
#include "reactor/Work.hpp"
#include "tests/support/Watchdog.hpp"

using namespace std::chrono_literals;

TEST_CASE("a repeating timer whose callback throws keeps firing and the loop carries on") {
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 20s);
  reactor::Timer timer(loop);
  int fired = 0;
  timer.start(0ms, 1ms, [&] {
    if (++fired == 3) {
      timer.stop();
      loop.stop();
    }
    throw std::runtime_error("timer callback failed");
  });
  loop.run();
  CHECK(fired == 3);
  dog.reset();
  CHECK(loop.close() == 0);
}

TEST_CASE("a poll whose callback throws is called again while its descriptor stays readable") {
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 20s);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  REQUIRE(::write(fds[1], "x", 1) == 1);
  int fired = 0;
  {
    reactor::Poll poll(loop, fds[0]);
    REQUIRE_FALSE(poll.start(reactor::Poll::readable, [&](int events, const reactor::Error&) {
      CHECK(events == reactor::Poll::readable);
      if (++fired == 3) {
        poll.stop();
        loop.stop();
      }
      throw std::runtime_error("poll callback failed");
    }));
    loop.run();
  }
  CHECK(fired == 3);
  ::close(fds[0]);
  ::close(fds[1]);
  dog.reset();
  CHECK(loop.close() == 0);
}

TEST_CASE("a signal watcher whose callback throws sees the next signal too") {
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 20s);
  reactor::Signal signal(loop);
  int fired = 0;
  signal.start(SIGUSR2, [&](int signum) {
    CHECK(signum == SIGUSR2);
    if (++fired == 2) {
      signal.stop();
      loop.stop();
    } else {
      loop.post([] { std::raise(SIGUSR2); });  // this process's own signal, the second one
    }
    throw std::runtime_error("signal callback failed");
  });
  loop.post([] { std::raise(SIGUSR2); });
  loop.run();
  CHECK(fired == 2);
  dog.reset();
  CHECK(loop.close() == 0);
}

TEST_CASE("work whose job and completion throw still lets the next work complete") {
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 20s);
  int completed = 0;
  reactor::queue_work(
      loop, [] { throw std::runtime_error("job failed"); },
      [&](bool cancelled) {
        CHECK_FALSE(cancelled);
        ++completed;
        reactor::queue_work(
            loop, [] {},
            [&](bool) {
              ++completed;
              loop.stop();
            });
        throw std::runtime_error("completion failed");
      });
  loop.run();
  CHECK(completed == 2);
  dog.reset();
  CHECK(loop.close() == 0);
}

TEST_CASE("a deadline or a posted function that throws is dropped and the next one runs") {
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 20s);
  int ran = 0;
  reactor::WheelTimer second(loop, [&] {
    ++ran;
    loop.stop();
  });
  reactor::WheelTimer first(loop, [&] {
    ++ran;
    loop.post([&] {
      ++ran;
      second.start(1ms);
      throw std::runtime_error("posted function failed");
    });
    throw std::runtime_error("deadline failed");
  });
  first.start(1ms);
  loop.run();
  CHECK(ran == 3);
  dog.reset();
  CHECK(loop.close() == 0);
}
