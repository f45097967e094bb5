// The tlsreactor-echo binary against python3 socket peers: bulk, many clients, IPv6.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "tests/integration/Peers.hpp"

using namespace std::chrono_literals;
using integration::python_peer;

namespace {

// Whether this machine can bind the IPv6 loopback (containers often run without IPv6).
bool ipv6_loopback_available() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE("echo returns 64 MiB byte-exact after a half-close") {
  integration::EchoServer server({});
  auto client = python_peer("echo_check.py", {"--port", server.port_text(), "--bytes",
                                              std::to_string(64 << 20), "--seed", "64"});
  integration::check_peer_succeeds(client);
  server.stop();
}

TEST_CASE("echo serves 200 concurrent clients byte-exact on two threads") {
  integration::EchoServer server({}, "127.0.0.1:0", 2);
  auto clients =
      python_peer("echo_check.py", {"--port", server.port_text(), "--clients", "200", "--bytes",
                                    std::to_string(64 * 1024), "--seed", "200"});
  integration::check_peer_succeeds(clients);
  server.stop();
}

TEST_CASE("echo works over the IPv6 loopback") {
  if (!ipv6_loopback_available()) {
    // CTest reports the case as skipped on this line (SKIP_REGULAR_EXPRESSION), not passed.
    MESSAGE("TEST SKIPPED: cannot bind ::1 on this machine");
    return;
  }
  integration::EchoServer server({}, "[::1]:0");
  CHECK(server.host() == "[::1]");
  auto client = python_peer("echo_check.py", {"--host", "::1", "--port", server.port_text(),
                                              "--bytes", std::to_string(4 << 20), "--seed", "6"});
  integration::check_peer_succeeds(client);
  server.stop();
}
