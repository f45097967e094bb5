// SIGTERM drains the echo binary: it stops accepting at once, lets live connections finish
// (up to --drain-timeout, then aborts them) and exits 0.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <thread>

#include "tests/integration/Peers.hpp"

using namespace std::chrono_literals;
using integration::python_peer;

namespace {

// Connects to 127.0.0.1:port again and again until the connection is refused; false if it was
// still accepted after `timeout`. A connection that gets through is closed at once so it does
// not hold up the drain.
bool refused_within(uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int err = errno;
    ::close(fd);
    if (rc != 0 && err == ECONNREFUSED) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace

TEST_CASE("SIGTERM lets a slow echo finish byte-exact and refuses new connections") {
  integration::EchoServer server({"--drain-timeout", "10"});
  // 1 MiB spread over 2 s, read as it comes back: the drain starts in the middle of it.
  auto client = python_peer("echo_check.py",
                            {"--port", server.port_text(), "--bytes", std::to_string(1 << 20),
                             "--duration", "2", "--announce-first-echo", "--seed", "7"});
  auto first = client.read_line(20s);
  REQUIRE_MESSAGE(first == "first-echo", client.transcript());

  server.process().signal(SIGTERM);
  // 20 s is only the hang guard: each try is either accepted or refused.
  CHECK_MESSAGE(refused_within(server.port(), 20s), "still accepting 20 s after SIGTERM");
  // The refusal must come from a server that is still draining, not from one already gone.
  CHECK_MESSAGE(!server.process().try_wait(), server.process().transcript());

  integration::check_peer_succeeds(client, 30s);
  int code = integration::finish(server.process(), 12s);  // the drain timeout plus a margin
  CHECK_MESSAGE(code == 0, server.process().transcript());
}

TEST_CASE("drain timeout aborts a connection that never finishes") {
  integration::EchoServer server({"--drain-timeout", "1"});
  // --ping proves the server accepted the connection before the drain begins; 30 s is only
  // the peer's hang guard.
  auto peer = python_peer("idle_peer.py", {"--port", server.port_text(), "--ping", "--expect",
                                           "either", "--max-seconds", "30"});
  auto connected = peer.read_line(20s);
  REQUIRE_MESSAGE(connected == "connected", peer.transcript());

  server.process().signal(SIGTERM);
  int code = integration::finish(server.process(), 30s);
  CHECK_MESSAGE(code == 0, server.process().transcript());
  // The drain deadline is what ended it (the server says so when it aborts), not a close of
  // its own before the deadline.
  CHECK_MESSAGE(server.process().transcript().find(
                    "drain deadline passed: aborting 1 connection") != std::string::npos,
                server.process().transcript());
  integration::check_peer_succeeds(peer, 10s);
}
