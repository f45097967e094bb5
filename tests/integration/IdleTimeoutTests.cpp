// A connection on which nothing happens for idle_timeout is closed by the server: the peer sees
// EOF, the handler sees Errc::idle_timeout.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "reactor/Address.hpp"
#include "reactor/TcpListener.hpp"
#include "tests/integration/Peers.hpp"
#include "tests/support/LoopThread.hpp"

using namespace std::chrono_literals;
using integration::python_peer;

TEST_CASE("idle timeout closes a silent connection with Errc::idle_timeout") {
  integration::ServerRecord record;  // outlives the loop: handlers write to it until the end
  test_support::LoopThread server(40s);
  reactor::TcpListener* listener = nullptr;
  reactor::Error listen_error;
  REQUIRE(server.call([&] {
    reactor::ListenOptions options;
    options.connection.idle_timeout = 300ms;
    listener = &server.own(std::make_unique<reactor::TcpListener>(
        server.loop(), integration::recording_echo_factory(record), options));
    listen_error = listener->listen(*reactor::Address::from_ip("127.0.0.1", 0));
  }));
  REQUIRE_MESSAGE(!listen_error, listen_error.message());
  uint16_t port = 0;
  REQUIRE(server.call([&] { port = listener->local_address().port(); }));

  // A server that closed at once would pass a bare "EOF came" check: the handler's
  // Errc::idle_timeout below says which deadline ended it. 30 s is only the hang guard.
  auto peer = python_peer(
      "idle_peer.py", {"--port", std::to_string(port), "--expect", "eof", "--max-seconds", "30"});
  integration::check_peer_succeeds(peer);

  // The server's on_close can trail the peer's EOF by the graceful close's wait for our FIN.
  CHECK(server.wait_until([&] { return !record.close_errors.empty(); }, 10s));
  // Assertions stay on the test thread: a failing REQUIRE must not throw through the loop.
  std::vector<reactor::Error> errors;
  REQUIRE(server.call([&] {
    errors = record.close_errors;
    listener->close();
  }));
  REQUIRE(errors.size() == 1);
  CHECK_MESSAGE(errors.front().code() == reactor::Errc::idle_timeout,
                "on_close error: " << errors.front().message());
  CHECK(server.stop_and_close() == 0);
}

TEST_CASE("echo binary closes a silent connection after --idle-timeout") {
  integration::EchoServer server({"--idle-timeout", "1"});
  // The binary reports no close reason: "not before 0.5 s" (a lower bound, which a slow
  // machine cannot break) tells an idle close from an immediate one; 30 s is the hang guard.
  auto peer = python_peer("idle_peer.py", {"--port", server.port_text(), "--expect", "eof",
                                           "--min-seconds", "0.5", "--max-seconds", "30"});
  integration::check_peer_succeeds(peer);
  server.stop();
}
