#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "reactor/Loop.hpp"
#include "reactor/TcpConnector.hpp"
#include "reactor/TcpListener.hpp"
#include "tests/support/Recorder.hpp"
#include "tests/support/StuckListener.hpp"
#include "tests/support/Watchdog.hpp"

using namespace std::chrono_literals;
using test_support::Record;
using test_support::Recorder;

namespace {

// A port on which nothing listens: bound by a listener that is then closed.
std::uint16_t unused_port() {
  reactor::Loop loop;
  reactor::TcpListener listener(loop, nullptr);
  REQUIRE_FALSE(listener.listen(*reactor::Address::from_ip("127.0.0.1", 0)));
  const auto port = listener.local_address().port();
  listener.close();
  CHECK(loop.close() == 0);
  return port;
}

// Connects and runs the loop until the handler's on_close (or on_open, then closes it).
std::shared_ptr<Record> attempt(const reactor::HostPort& target,
                                reactor::ConnectOptions options = {}) {
  reactor::Loop loop;
  auto record = std::make_shared<Record>();
  {
    test_support::Watchdog dog(loop, 20s);
    auto h = std::make_unique<Recorder>(record);
    h->open = [](reactor::Connection& c) { c.close(); };
    h->closed = [&loop](reactor::Connection&, const reactor::Error&) { loop.stop(); };
    reactor::TcpConnector(loop, options).connect(target, std::move(h));
    loop.run();
  }
  CHECK(loop.close() == 0);
  return record;
}

}  // namespace

TEST_CASE("connecting where nobody listens fails with the address and 'connection refused'") {
  const auto port = unused_port();
  const auto r = attempt({"127.0.0.1", port});
  CHECK_FALSE(r->opened);
  CHECK(r->closed);
  CHECK(r->error.message() == "connect 127.0.0.1:" + std::to_string(port) + ": connection refused");
}

TEST_CASE("a host name is resolved, and each of its addresses is tried in turn") {
  const auto port = unused_port();
  const auto refused = attempt({"localhost", port});
  CHECK_FALSE(refused->opened);
  CHECK(refused->error.message().rfind("connect localhost:" + std::to_string(port) + " (", 0) == 0);
  CHECK((refused->error.code() == std::errc::connection_refused));
}

TEST_CASE("a host name with an IPv4 listener behind it connects even if ::1 comes first") {
  reactor::Loop loop;
  auto record = std::make_shared<Record>();
  {
    test_support::Watchdog dog(loop, 20s);
    reactor::TcpListener listener(
        loop, [] { return std::make_unique<Recorder>(std::make_shared<Record>()); });
    REQUIRE_FALSE(listener.listen(*reactor::Address::from_ip("127.0.0.1", 0)));
    auto h = std::make_unique<Recorder>(record);
    h->open = [](reactor::Connection& c) { c.close(); };
    h->closed = [&loop](reactor::Connection&, const reactor::Error&) { loop.stop(); };
    reactor::TcpConnector(loop).connect({"localhost", listener.local_address().port()},
                                        std::move(h));
    loop.run();
  }
  CHECK(record->opened);
  CHECK_MESSAGE(!record->error, record->error.message());
  CHECK(loop.close() == 0);
}

TEST_CASE("a connect whose SYN is never answered fails at the connect timeout") {
  const test_support::StuckListener stuck;
  const auto port = stuck.port();
  reactor::ConnectOptions options;
  options.timeout = 400ms;
  const auto r = attempt({"127.0.0.1", port}, options);
  CHECK_FALSE(r->opened);
  CHECK(r->error.code() == reactor::Errc::connect_timeout);
  CHECK(r->error.message() ==
        "connect 127.0.0.1:" + std::to_string(port) + ": connection timed out");
}

TEST_CASE("close() while connecting ends the attempt without on_open") {
  reactor::Loop loop;
  auto record = std::make_shared<Record>();
  {
    test_support::Watchdog dog(loop, 10s);
    reactor::TcpListener listener(loop, nullptr);
    REQUIRE_FALSE(listener.listen(*reactor::Address::from_ip("127.0.0.1", 0)));
    auto h = std::make_unique<Recorder>(record);
    h->closed = [&loop](reactor::Connection&, const reactor::Error&) { loop.stop(); };
    reactor::TcpConnector(loop).connect({"127.0.0.1", listener.local_address().port()},
                                        std::move(h));
    loop.for_each_connection([](reactor::Connection& c) { c.close(); });
    loop.run();
  }
  CHECK_FALSE(record->opened);
  CHECK(record->closed);
  CHECK(record->error.code() == reactor::Errc::aborted);
  CHECK(loop.close() == 0);
}
