// The programs the integration tests talk to: python3 peers from peers/, command-line TLS
// clients driven through their stdin (openssl s_client, gnutls-cli), the app binaries
// (tlsreactor-echo, tlsreactor-hello), and the echo handler wrapped so in-process tests can see
// the server side.
#pragma once

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
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

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline std::size_t occurrences(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

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

// The time left until `deadline`, never negative.
inline std::chrono::milliseconds until(std::chrono::steady_clock::time_point deadline) {
  return std::max(0ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                           deadline - std::chrono::steady_clock::now()));
}

// Everything a peer prints on stdout until it exits; checks that it exited 0.
inline std::string output_of(Process& peer, std::chrono::milliseconds timeout = 50s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out;
  while (auto line = peer.read_line(until(deadline))) out += *line + "\n";
  check_peer_succeeds(peer, until(deadline));
  return out;
}

// What http_peer.py's exchange reported: one block of lines per response, in order, and how
// the connection ended ("closed", "open", "reset", "extra ...").
struct Exchange {
  std::vector<std::string> responses;
  std::string end;
  std::string output;  // all of it, for failure messages
};

// Sends `request` in one write to 127.0.0.1:`port` (cleartext) and parses one response per
// entry of `methods` (the method of the request it answers: http.client needs to know which
// responses to HEAD have no body).
inline Exchange http_exchange(const std::string& port, const std::string& request,
                              std::vector<std::string> methods = {"GET"},
                              std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"exchange", "--port", port, "--send", request};
  for (const auto& m : methods) args.insert(args.end(), {"--expect", m});
  args.insert(args.end(), extra.begin(), extra.end());
  auto peer = python_peer("http_peer.py", args);
  Exchange result;
  result.output = output_of(peer);
  std::size_t start = 0;
  while (start < result.output.size()) {
    const auto nl = result.output.find('\n', start);
    const std::string line = result.output.substr(start, nl - start);
    start = nl + 1;
    if (line.starts_with("response "))
      result.responses.push_back(line + "\n");
    else if (line.starts_with("end: "))
      result.end = line.substr(5);
    else if (!result.responses.empty())
      result.responses.back() += line + "\n";
  }
  return result;
}

// What peers/interact.py saw while driving a command-line program through its stdin.
struct Interaction {
  bool ok = false;      // every step happened in time
  std::string verdict;  // "ok", or "FAIL: step 3 ('line:hello') after 20.0 s: timed out"
  std::string exit;     // the program's exit code, or "killed" when it outlived the steps
  std::string out;      // the program's stdout
  std::string err;      // the program's stderr
  std::string transcript() const {
    return "interact: " + verdict + "\nexit: " + exit + "\n--- stdout ---\n" + out +
           "--- stderr ---\n" + err;
  }
};

// Runs `command` under peers/interact.py with the given steps ("send:TEXT", "line:TEXT",
// "out:REGEX", "err:REGEX", "close", "exit:CODE", "sleep:SECONDS"; see the script), all of
// them within `timeout`.
inline Interaction interact(const std::vector<std::string>& steps,
                            const std::vector<std::string>& command,
                            std::chrono::seconds timeout = 20s) {
  std::vector<std::string> args{"--timeout", std::to_string(timeout.count())};
  args.insert(args.end(), steps.begin(), steps.end());
  args.emplace_back("--");
  args.insert(args.end(), command.begin(), command.end());
  auto driver = python_peer("interact.py", std::move(args));
  const auto deadline = std::chrono::steady_clock::now() + timeout + 10s;
  Interaction result;
  std::string* section = nullptr;
  while (auto line = driver.read_line(until(deadline))) {
    if (section == nullptr && line->starts_with("interact: "))
      result.verdict = line->substr(10);
    else if (section == nullptr && line->starts_with("exit: "))
      result.exit = line->substr(6);
    else if (*line == "--- stdout ---")
      section = &result.out;
    else if (*line == "--- stderr ---")
      section = &result.err;
    else if (section != nullptr)
      *section += *line + "\n";
  }
  const int code = finish(driver, 10s);
  result.ok = code == 0 && result.verdict == "ok";
  CHECK_MESSAGE((code == 0 || code == 1), "interact.py itself failed\n" << driver.transcript());
  return result;
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

// A tlsreactor app binary (tlsreactor-echo, tlsreactor-hello, ...) listening on an ephemeral
// port. The constructor waits for the one "PROGRAM: listening on ADDR (N threads[, TLS])" line
// every app prints, checks its exact shape, and takes the port from it.
class AppServer {
 public:
  AppServer(const std::string& binary, std::vector<std::string> options, std::string listen,
            unsigned threads)
      : process_(argv(binary, listen, threads, std::move(options))) {
    // Generous: an ASan build starts slowly on a busy 2-core machine.
    auto line = process_.read_line(20s);
    REQUIRE_MESSAGE(line.has_value(), "no listening line\n" << process_.transcript());
    std::smatch m;
    // "(1 thread)", "(2 threads)"; the literal "thread(s)" of the first draft is accepted too.
    const std::regex shape(std::filesystem::path(binary).filename().string() +
                           R"(: listening on (\S+):(\d+) \((\d+) thread(?:s|\(s\))?(?:, TLS)?\))");
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
  static std::vector<std::string> argv(const std::string& binary, const std::string& listen,
                                       unsigned threads, std::vector<std::string> options) {
    std::vector<std::string> all{binary, "--listen", listen, "--threads", std::to_string(threads)};
    all.insert(all.end(), options.begin(), options.end());
    return all;
  }

  Process process_;
  std::string host_;
  uint16_t port_ = 0;
};

class EchoServer : public AppServer {
 public:
  explicit EchoServer(std::vector<std::string> options, std::string listen = "127.0.0.1:0",
                      unsigned threads = 1)
      : AppServer(TLSREACTOR_ECHO_BIN, std::move(options), std::move(listen), threads) {}
};

// tlsreactor-echo --tls with the development certificate it generates into `cert_dir` (its
// CA, the leaf for localhost/127.0.0.1/::1 and the leaf's key), plus any further options.
class TlsEchoServer : public EchoServer {
 public:
  explicit TlsEchoServer(const std::filesystem::path& cert_dir,
                         std::vector<std::string> options = {})
      : EchoServer(with_dev_cert(cert_dir, std::move(options))), cert_dir_(cert_dir) {}

  std::string ca_file() const { return (cert_dir_ / "ca.pem").string(); }
  std::string cert_file() const { return (cert_dir_ / "cert.pem").string(); }
  std::string key_file() const { return (cert_dir_ / "key.pem").string(); }

 private:
  static std::vector<std::string> with_dev_cert(const std::filesystem::path& dir,
                                                std::vector<std::string> options) {
    options.insert(options.begin(), {"--tls", "--dev-cert-dir", dir.string()});
    return options;
  }

  std::filesystem::path cert_dir_;
};

class HelloServer : public AppServer {
 public:
  explicit HelloServer(std::vector<std::string> options, std::string listen = "127.0.0.1:0",
                       unsigned threads = 1)
      : AppServer(TLSREACTOR_HELLO_BIN, std::move(options), std::move(listen), threads) {}

  // "http://127.0.0.1:PORT/path"
  std::string url(const std::string& path) const {
    return "http://" + host() + ":" + port_text() + path;
  }
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
