// A failed connect lands in on_close, never in on_open, with an error that says what was being
// done and why it failed, in libuv's words.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "reactor/Loop.hpp"
#include "reactor/TcpConnector.hpp"
#include "tests/integration/Peers.hpp"
#include "tests/support/Watchdog.hpp"

namespace {

using namespace std::chrono_literals;

struct ConnectOutcome {
  bool opened = false;
  bool closed = false;
  reactor::Error error;
};

class RecordingClient final : public reactor::Handler {
 public:
  explicit RecordingClient(ConnectOutcome& outcome) : outcome_(outcome) {}
  void on_open(reactor::Connection& conn) override {
    outcome_.opened = true;
    conn.abort();
  }
  void on_data(reactor::Connection&, std::span<const std::byte>) override {}
  void on_close(reactor::Connection& conn, const reactor::Error& error) override {
    outcome_.closed = true;
    outcome_.error = error;
    conn.loop().stop();
  }

 private:
  ConnectOutcome& outcome_;
};

// One connect attempt on a fresh loop, run until the handler's on_close.
ConnectOutcome connect_once(const reactor::HostPort& target) {
  ConnectOutcome outcome;
  reactor::Loop loop;
  {
    test_support::Watchdog watchdog(loop, 20s);
    reactor::TcpConnector connector(loop);
    connector.connect(target, std::make_unique<RecordingClient>(outcome));
    loop.run();
  }
  CHECK(loop.close() == 0);
  return outcome;
}

}  // namespace

TEST_CASE("connect to a closed loopback port fails with the exact connection refused text") {
  uint16_t port = integration::closed_port();
  ConnectOutcome outcome = connect_once({"127.0.0.1", port});

  CHECK_FALSE(outcome.opened);
  REQUIRE(outcome.closed);
  CHECK(outcome.error.message() ==
        "connect 127.0.0.1:" + std::to_string(port) + ": connection refused");
}

TEST_CASE("connect to localhost on a closed port fails with connection refused") {
  uint16_t port = integration::closed_port();
  ConnectOutcome outcome = connect_once({"localhost", port});

  CHECK_FALSE(outcome.opened);
  REQUIRE(outcome.closed);
  INFO("message: " << outcome.error.message());
  CHECK(outcome.error.message().find("connection refused") != std::string::npos);
}

TEST_CASE("connect to an unresolvable name fails with a resolve error") {
  // .invalid is reserved (RFC 2606): no resolver can answer it.
  ConnectOutcome outcome = connect_once({"nonexistent.invalid", 443});

  CHECK_FALSE(outcome.opened);
  REQUIRE(outcome.closed);
  INFO("message: " << outcome.error.message());
  CHECK(static_cast<bool>(outcome.error));
  CHECK(outcome.error.message().starts_with("resolve nonexistent.invalid"));
}
