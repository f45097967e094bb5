#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "reactor/Loop.hpp"
#include "reactor/Poll.hpp"
#include "tests/support/Watchdog.hpp"

using namespace std::chrono_literals;

TEST_CASE("Poll reports a foreign descriptor readable once it is signalled") {
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 5000ms);
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  REQUIRE(fd >= 0);
  int events = 0;
  {
    reactor::Poll poll(loop, fd);
    REQUIRE_FALSE(poll.error());
    REQUIRE_FALSE(poll.start(reactor::Poll::readable, [&](int ready, const reactor::Error& error) {
      CHECK_FALSE(error);
      events = ready;
      poll.stop();
      loop.stop();
    }));
    // Signal from another iteration so that the poll is really waiting when it happens.
    loop.post([fd] {
      const std::uint64_t one = 1;
      CHECK(::write(fd, &one, sizeof one) == sizeof one);
    });
    loop.run();
  }
  CHECK(events == reactor::Poll::readable);
  dog.reset();
  CHECK(loop.close() == 0);
  ::close(fd);
}

TEST_CASE("Poll on a closed descriptor reports a clear error instead of watching nothing") {
  reactor::Loop loop;
  const int fd = eventfd(0, EFD_CLOEXEC);
  REQUIRE(fd >= 0);
  ::close(fd);
  reactor::Poll poll(loop, fd);
  CHECK(poll.error());
  CHECK(poll.error().message().find("poll fd") == 0);
  CHECK(poll.start(reactor::Poll::readable, [](int, const reactor::Error&) {}));
  CHECK(loop.close() == 0);
}
