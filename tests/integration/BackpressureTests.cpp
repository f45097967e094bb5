// A peer that sends without reading must not make the server buffer without bound: the echo
// handler stops reading once its write queue passes the high-water mark, so the queue peaks at
// most one read (the per-loop 64 KiB buffer) above it, and other connections are still served.
#include <doctest/doctest.h>

#include <csignal>
#include <memory>
#include <vector>

#include "reactor/Address.hpp"
#include "reactor/TcpListener.hpp"
#include "tests/integration/Peers.hpp"
#include "tests/support/LoopThread.hpp"

using namespace std::chrono_literals;
using integration::python_peer;

TEST_CASE("a peer that never reads is held to the high-water mark while others are served") {
  constexpr std::size_t one_read = 64 * 1024;
  const reactor::ListenOptions options;  // default WriteLimits
  const reactor::WriteLimits limits = options.connection.limits;

  integration::ServerRecord record;  // outlives the loop: handlers write to it until the end
  test_support::LoopThread server(45s);
  reactor::TcpListener* listener = nullptr;
  reactor::Error listen_error;
  uint16_t port = 0;
  REQUIRE(server.call([&] {
    listener = &server.own(std::make_unique<reactor::TcpListener>(
        server.loop(), integration::recording_echo_factory(record), options));
    listen_error = listener->listen(*reactor::Address::from_ip("127.0.0.1", 0));
    port = listener->local_address().port();
  }));
  REQUIRE_MESSAGE(!listen_error, listen_error.message());

  auto flood = python_peer("flood_peer.py",
                           {"--port", std::to_string(port), "--bytes", std::to_string(64 << 20)});
  auto stuck = flood.read_line(30s);
  REQUIRE_MESSAGE((stuck && stuck->starts_with("stuck after")), flood.transcript());
  MESSAGE("flood peer: " << *stuck);

  // The stuck connection must not hold up the loop: a second client is served meanwhile.
  auto normal = python_peer("echo_check.py", {"--port", std::to_string(port), "--bytes",
                                              std::to_string(1 << 20), "--seed", "5"});
  integration::check_peer_succeeds(normal, 30s);

  // Once the normal client's connection has ended, only the stuck one is live.
  CHECK(server.wait_until([&] { return record.close_errors.size() == 1; }, 10s));
  std::vector<reactor::ConnectionStats> live;
  std::vector<reactor::Error> closed;
  REQUIRE(server.call([&] {
    for (reactor::Connection* conn : record.live) live.push_back(conn->stats());
    closed = record.close_errors;
  }));
  REQUIRE(live.size() == 1);
  for (const reactor::Error& error : closed) CHECK_MESSAGE(!error, error.message());
  const reactor::ConnectionStats& held = live.front();
  MESSAGE("stuck connection: read " << held.bytes_read << ", written " << held.bytes_written
                                    << ", queued " << held.queued_bytes << ", peak "
                                    << held.peak_queued_bytes);
  // Above `high`, or backpressure was never exercised and the bound below proves nothing.
  CHECK(held.peak_queued_bytes > limits.high);
  CHECK(held.peak_queued_bytes <= limits.high + one_read);

  // Killing the stuck peer resets its connection; the server's pending write sees it.
  flood.signal(SIGKILL);
  CHECK(integration::finish(flood, 10s) == 128 + SIGKILL);
  CHECK(server.wait_until([&] { return record.live.empty(); }, 15s));
  std::vector<reactor::ConnectionStats> final_stats;
  REQUIRE(server.call([&] {
    final_stats = record.final_stats;
    listener->close();
  }));
  for (const reactor::ConnectionStats& stats : final_stats)
    CHECK(stats.peak_queued_bytes <= limits.high + one_read);
  CHECK(server.stop_and_close() == 0);
}

TEST_CASE("echo binary holds off a flooding client and keeps serving after it is killed") {
  integration::EchoServer server({});
  auto flood = python_peer("flood_peer.py",
                           {"--port", server.port_text(), "--bytes", std::to_string(64 << 20)});
  auto stuck = flood.read_line(30s);
  REQUIRE_MESSAGE((stuck && stuck->starts_with("stuck after")), flood.transcript());

  // The echo queued for the dead peer now meets a reset: that must end one connection (EPIPE,
  // ECONNRESET), not the process (SIGPIPE).
  flood.signal(SIGKILL);
  CHECK(integration::finish(flood, 10s) == 128 + SIGKILL);
  auto client = python_peer("echo_check.py", {"--port", server.port_text(), "--bytes",
                                              std::to_string(1 << 20), "--seed", "9"});
  integration::check_peer_succeeds(client, 30s);
  server.stop();
}
