// The programs the integration tests talk to: python3 peers from peers/, the tlsreactor-echo
// binary, and the echo handler wrapped so in-process tests can see the server side.
#pragma once

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "apps/echo/EchoHandler.hpp"
#include "reactor/Connection.hpp"
#include "reactor/Error.hpp"
#include "reactor/Handler.hpp"
#include "tests/support/Process.hpp"

namespace integration {

using namespace std::chrono_literals;
using test_support::Process;

// Starts peers/<script> with python3 from PATH.
inline Process python_peer(const std::string& script, std::vector<std::string> args) {
  std::vector<std::string> argv{"python3", std::string(TLSREACTOR_PEERS_DIR) + "/" + script};
  argv.insert(argv.end(), args.begin(), args.end());
  return Process(std::move(argv));
}

// Waits for a child and returns its exit code, or -1 when it did not finish in time (the
// Process destructor then kills it).
inline int finish(Process& child, std::chrono::milliseconds timeout = 50s) {
  return child.wait(timeout).value_or(-1);
}

// Checks a peer exited 0, showing everything it printed when it did not.
inline void check_peer_succeeds(Process& peer, std::chrono::milliseconds timeout = 50s) {
  int code = finish(peer, timeout);
  CHECK_MESSAGE(code == 0, peer.transcript());
}

// A loopback port nothing listens on: bound, then closed. (Another process could take it in
// between; on a test machine that is unlikely enough.)
inline uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
               ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  REQUIRE(bound);
  return ntohs(addr.sin_port);
}

// The tlsreactor-echo binary, listening on an ephemeral port. The constructor waits for the one
// "listening" line the binary prints, checks its exact shape, and takes the port from it.
class EchoServer {
 public:
  explicit EchoServer(std::vector<std::string> options, std::string listen = "127.0.0.1:0",
                      unsigned threads = 1)
      : process_(argv(listen, threads, std::move(options))) {
    // Generous: an ASan build starts slowly on a busy 2-core machine.
    auto line = process_.read_line(20s);
    REQUIRE_MESSAGE(line.has_value(), "no listening line\n" << process_.transcript());
    std::smatch m;
    // "(1 thread)", "(2 threads)"; the literal "thread(s)" of the first draft is accepted too.
    static const std::regex shape(
        R"(tlsreactor-echo: listening on (\S+):(\d+) \((\d+) thread(?:s|\(s\))?\))");
    REQUIRE_MESSAGE(std::regex_match(*line, m, shape), "unexpected line: " << *line);
    host_ = m[1];
    port_ = static_cast<uint16_t>(std::stoul(m[2]));
    CHECK(m[3] == std::to_string(threads));
  }

  Process& process() { return process_; }
  const std::string& host() const { return host_; }  // as printed: "127.0.0.1", "[::1]"
  uint16_t port() const { return port_; }
  std::string port_text() const { return std::to_string(port_); }

  // SIGTERM with nothing left in flight: the binary must exit 0 promptly.
  void stop() {
    process_.signal(SIGTERM);
    int code = finish(process_, 15s);
    CHECK_MESSAGE(code == 0, process_.transcript());
  }

 private:
  static std::vector<std::string> argv(const std::string& listen, unsigned threads,
                                       std::vector<std::string> options) {
    std::vector<std::string> all{TLSREACTOR_ECHO_BIN, "--listen", listen, "--threads",
                                 std::to_string(threads)};
    all.insert(all.end(), options.begin(), options.end());
    return all;
  }

  Process process_;
  std::string host_;
  uint16_t port_ = 0;
};

// What the server side saw. Touched only on the server's loop thread (or after it stopped).
struct ServerRecord {
  std::vector<reactor::Connection*> live;
  std::vector<reactor::Error> close_errors;
  std::vector<reactor::ConnectionStats> final_stats;
};

// The real EchoHandler (it is final, so wrapped, not derived from) plus a record of each
// connection and of how it ended.
class RecordingEcho final : public reactor::Handler {
 public:
  explicit RecordingEcho(ServerRecord& record) : record_(record) {}

  void on_open(reactor::Connection& conn) override {
    record_.live.push_back(&conn);
    echo_.on_open(conn);
  }
  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override {
    echo_.on_data(conn, data);
  }
  void on_drain(reactor::Connection& conn) override { echo_.on_drain(conn); }
  void on_peer_closed(reactor::Connection& conn) override { echo_.on_peer_closed(conn); }
  void on_server_stopping(reactor::Connection& conn) override { echo_.on_server_stopping(conn); }
  void on_close(reactor::Connection& conn, const reactor::Error& error) override {
    std::erase(record_.live, &conn);
    record_.close_errors.push_back(error);
    record_.final_stats.push_back(conn.stats());
    echo_.on_close(conn, error);
  }

 private:
  apps::echo::EchoHandler echo_;
  ServerRecord& record_;
};

inline reactor::HandlerFactory recording_echo_factory(ServerRecord& record) {
  return [&record] { return std::make_unique<RecordingEcho>(record); };
}

}  // namespace integration
