// Limits of the shared server options against a real app binary: --max-connections holds
// extra clients in the listen backlog, unserved and without spinning, until a place frees.
#include <doctest/doctest.h>

#include <unistd.h>

#include <optional>

#include "tests/integration/Peers.hpp"
#include "tests/integration/RawClient.hpp"
#include "tests/support/ProcStats.hpp"

using integration::HelloServer;
using integration::RawClient;
using namespace std::chrono_literals;

namespace {

const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

}  // namespace

TEST_CASE("--max-connections: extra clients wait unserved, without CPU spin, then are served") {
  HelloServer server({"--max-connections", "2"});
  std::optional<RawClient> first(std::in_place, server.port());
  std::optional<RawClient> second(std::in_place, server.port());
  first->send(request);
  second->send(request);
  CHECK(first->read_until("hello from tlsreactor", 20s));
  CHECK(second->read_until("hello from tlsreactor", 20s));

  RawClient third(server.port());  // the kernel's backlog completes the connect
  third.send(request);
  const std::uint64_t ticks_before = test_support::cpu_ticks(server.process().pid());
  // Two seconds with a client waiting at the limit: it gets nothing, and a server polling the
  // listening socket in a loop would burn those seconds on the CPU.
  const bool early = third.read_until("HTTP/1.1", 2s);
  const std::uint64_t used = test_support::cpu_ticks(server.process().pid()) - ticks_before;
  CHECK_MESSAGE(!early, "served over the limit: " << third.received());
  CHECK_MESSAGE(used < static_cast<std::uint64_t>(sysconf(_SC_CLK_TCK)) / 2,
                "CPU ticks while full: " << used);

  first.reset();  // a place frees: the waiting client is accepted and served
  CHECK(third.read_until("hello from tlsreactor", 20s));
  second.reset();
  server.stop();
  CHECK_MESSAGE(
      server.process().transcript().find("at its limit of 2 connections") != std::string::npos,
      server.process().transcript());
}
