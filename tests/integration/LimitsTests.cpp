// Limits of the shared server options against a real app binary: --max-connections holds
// extra clients in the listen backlog, unserved, until a place frees.
#include <doctest/doctest.h>

#include <unistd.h>

#include <optional>

#include "tests/integration/Peers.hpp"
#include "tests/integration/RawClient.hpp"

using integration::HelloServer;
using integration::RawClient;
using namespace std::chrono_literals;

namespace {

const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

}  // namespace

TEST_CASE("--max-connections: extra clients wait unserved at the limit, then are served") {
  HelloServer server({"--max-connections", "2"});
  std::optional<RawClient> first(std::in_place, server.port());
  std::optional<RawClient> second(std::in_place, server.port());
  first->send(request);
  second->send(request);
  CHECK(first->read_until("hello from tlsreactor", 20s));
  CHECK(second->read_until("hello from tlsreactor", 20s));

  RawClient third(server.port());  // the kernel's backlog completes the connect
  third.send(request);
  // The server saw the third connection and left it in the backlog (its log says so when it
  // does): from here nothing can serve it until a place frees. That it waits without spinning
  // is counted in loop turns by reactor.at max_connections the listener stops accepting,
  // without spinning, and resumes.
  REQUIRE_MESSAGE(server.process().wait_for_stderr("at its limit of 2 connections", 1, 20s),
                  server.process().transcript());
  CHECK_MESSAGE(!third.read_until("HTTP/1.1", 200ms),
                "served over the limit: " << third.received());

  first.reset();  // a place frees: the waiting client is accepted and served
  CHECK(third.read_until("hello from tlsreactor", 20s));
  second.reset();
  server.stop();
}
