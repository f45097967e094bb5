// Http2Connection's defences over real sockets: each attack of docs/http2.md's "Limits and
// defences" made by peers/h2_attack.py (hand-made frames, Python's h2 and hpack) against
// tlsreactor-h2-test-server, asserting what the attacker sees (GOAWAY with its code and last
// stream, RST_STREAM, 431, the close), the server's one log line, and that a fresh client
// (curl) is served afterwards. Then the stalls, a stream reset among others, a 1 GiB download
// with the server's memory bounded, and SIGTERM's GOAWAY.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/Peers.hpp"
#include "tests/support/ProcStats.hpp"

using namespace std::chrono_literals;
using integration::contains;
using integration::output_of;
using integration::Process;

namespace {

// The server binary's path, with ASan's quarantine turned off for it first: the quarantine
// holds freed memory back on purpose, and the memory bounds below are about the server's own
// buffers. (Without ASan the variable is read by no one.)
const char* without_quarantine(const char* binary) {
  const char* inherited = std::getenv("ASAN_OPTIONS");
  std::string options = inherited != nullptr ? inherited : "";
  if (options.find("quarantine_size_mb=0") == std::string::npos)
    ::setenv("ASAN_OPTIONS", (options + ":quarantine_size_mb=0").c_str(), 1);
  return binary;
}

class H2TestServer : public integration::AppServer {
 public:
  explicit H2TestServer(std::vector<std::string> options = {})
      : AppServer(without_quarantine(TLSREACTOR_H2_TEST_SERVER_BIN), std::move(options),
                  "127.0.0.1:0", 1) {}

  // What the attack peer printed, all of it (it exits 0 whatever the server did).
  std::string attack(std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"--port", port_text()});
    auto peer = integration::python_peer("h2_attack.py", std::move(args));
    return output_of(peer, 60s);
  }

  // The server logged `text` (one line per defence that fired).
  bool logged(const std::string& text) { return process().wait_for_stderr(text, 1, 20s); }

  // The server's "closed stream=ID completed=C produced=N" line for `stream`: N, or -1.
  long long produced(std::uint32_t stream, bool completed = false) {
    const std::regex shape("closed stream=" + std::to_string(stream) +
                           " completed=" + (completed ? "1" : "0") + " produced=(\\d+)");
    while (auto line = process().read_line(20s)) {
      std::smatch m;
      if (std::regex_match(*line, m, shape)) return std::stoll(m[1]);
    }
    return -1;
  }

  // A client nobody here wrote still gets its answer over HTTP/2.
  void check_serves_a_fresh_client() {
    Process curl({"curl", "--silent", "--show-error", "--max-time", "30", "--http2-prior-knowledge",
                  "--write-out", "%{http_version} %{http_code}\n",
                  "http://127.0.0.1:" + port_text() + "/hello"});
    CHECK(output_of(curl, 40s) == "hello\n2 200\n");
  }
};

// A flood of `kind` frames: GOAWAY ENHANCE_YOUR_CALM, the close, the log line, a fresh client.
void check_flood_ends_in_calm(const std::string& kind, const std::string& log_line) {
  H2TestServer server({"--h2-flood-budget", "100"});
  const std::string out = server.attack({"flood", "--kind", kind, "--count", "1000"});
  INFO(out);
  CHECK(contains(out, "goaway ENHANCE_YOUR_CALM last="));
  CHECK(contains(out, "\nclosed\n"));
  CHECK(server.logged(log_line));
  server.check_serves_a_fresh_client();
}

// A HEADERS followed by CONTINUATIONs (peer options `args`) against a server allowing `limit`.
void check_continuation_flood(std::vector<std::string> args, int limit) {
  H2TestServer server({"--h2-max-continuations", std::to_string(limit)});
  args.insert(args.begin(), "continuation-flood");
  const std::string out = server.attack(args);
  INFO(out);
  // The GOAWAY names stream 1, whose header block nghttp2 had begun to decode.
  CHECK(contains(out, "goaway ENHANCE_YOUR_CALM last=1\n"));
  CHECK(contains(out, "\nclosed\n"));
  CHECK(server.logged("CONTINUATION flood: more than " + std::to_string(limit) +
                      " CONTINUATION frames after one HEADERS"));
  server.check_serves_a_fresh_client();
}

}  // namespace

TEST_CASE("h2 defence: streams over the concurrency limit are refused and the connection goes on") {
  H2TestServer server({"--h2-max-concurrent-streams", "10"});
  // Eleven streams sent before the server's SETTINGS were acknowledged: the eleventh is
  // refused on its own and the connection still answers the twelfth.
  const std::string out = server.attack({"concurrent", "--count", "11"});
  INFO(out);
  CHECK(contains(out, "rst 21 REFUSED_STREAM\n"));
  CHECK(integration::occurrences(out, "rst ") == 1);
  CHECK(contains(out, "headers 23 status=200\n"));
  CHECK(server.logged("streams refused (REFUSED_STREAM) over h2-max-concurrent-streams 10"));
  server.check_serves_a_fresh_client();
}

TEST_CASE("h2 defence: a client over the acknowledged stream limit gets GOAWAY PROTOCOL_ERROR") {
  H2TestServer server({"--h2-max-concurrent-streams", "10"});
  const std::string out = server.attack({"concurrent", "--count", "11", "--ack"});
  INFO(out);
  // nghttp2 treats exceeding a limit the client had acknowledged as a connection error; the
  // GOAWAY names stream 19, the last one taken, so the client knows 21 was not.
  CHECK(contains(out, "goaway PROTOCOL_ERROR last=19\n"));
  CHECK(contains(out, "\nclosed\n"));
  CHECK(server.logged("connection error PROTOCOL_ERROR"));
  server.check_serves_a_fresh_client();
}

TEST_CASE("h2 defence: rapid reset (CVE-2023-44487) ends in GOAWAY ENHANCE_YOUR_CALM") {
  H2TestServer server({"--h2-reset-budget", "50"});
  const std::string out = server.attack({"rapid-reset", "--count", "200"});
  INFO(out);
  // The 51st cancelled stream (id 101) is one over the budget.
  CHECK(contains(out, "goaway ENHANCE_YOUR_CALM last=101\n"));
  CHECK(contains(out, "\nclosed\n"));
  CHECK(server.logged("rapid reset: the client cancelled 50 more streams than it let finish"));
  server.check_serves_a_fresh_client();
}

TEST_CASE("h2 defence: a flood of empty CONTINUATION frames ends in GOAWAY ENHANCE_YOUR_CALM") {
  check_continuation_flood({"--count", "10000"}, 8);
}

TEST_CASE("h2 defence: a header block that never ends is cut at the CONTINUATION limit") {
  check_continuation_flood({"--fill", "--count", "100"}, 4);
}

TEST_CASE("h2 defence: an HPACK bomb is answered 431 without decoding into memory") {
  H2TestServer server;
  const auto peak_before = test_support::peak_rss_kib(server.process().pid());
  // 16,000 one-byte references to a 4,000-byte table entry: 64 MB of decoded header list.
  const std::string out = server.attack({"hpack-bomb", "--count", "16000"});
  INFO(out);
  CHECK(contains(out, "headers 1 status=431\n"));
  CHECK(contains(out, "headers 3 status=200\n"));  // the same connection, HPACK still in step
  CHECK(server.logged("request answered 431: decoded header list over h2-max-header-bytes 32768"));
  const auto peak_after = test_support::peak_rss_kib(server.process().pid());
  CHECK(peak_after - peak_before < 32 * 1024);
  server.check_serves_a_fresh_client();
}

TEST_CASE("h2 defence: a SETTINGS flood ends in GOAWAY ENHANCE_YOUR_CALM") {
  check_flood_ends_in_calm("settings", "flood of SETTINGS frames");
}

TEST_CASE("h2 defence: a PING flood ends in GOAWAY ENHANCE_YOUR_CALM") {
  check_flood_ends_in_calm("ping", "flood of PING frames");
}

TEST_CASE("h2 defence: a WINDOW_UPDATE flood ends in GOAWAY ENHANCE_YOUR_CALM") {
  check_flood_ends_in_calm("window-update", "flood of WINDOW_UPDATE frames");
}

TEST_CASE("h2 defence: a PRIORITY flood ends in GOAWAY ENHANCE_YOUR_CALM") {
  check_flood_ends_in_calm("priority", "flood of PRIORITY frames");
}

TEST_CASE("h2 defence: a flood of empty DATA frames ends in GOAWAY ENHANCE_YOUR_CALM") {
  check_flood_ends_in_calm("empty-data", "flood of empty DATA frames");
}

TEST_CASE("h2 stall: a stream whose window stays shut is reset, its memory held to one buffer") {
  H2TestServer server({"--h2-stall-timeout", "1"});
  // Not a byte of body can move (SETTINGS_INITIAL_WINDOW_SIZE 0): the response producer is
  // stopped at the stream's buffer (64 KiB, plus the one 16 KiB write that crossed it).
  std::string out = server.attack({"stall-stream", "--window", "0"});
  INFO(out);
  CHECK(contains(out, "rst 1 CANCEL\n"));
  CHECK(contains(out, "headers 3 status=200\n"));  // the connection goes on
  const long long held = server.produced(1);
  CHECK(held >= 0);
  CHECK(held <= 64 * 1024 + 16 * 1024);
  CHECK(server.logged("stream reset (CANCEL): its flow-control window stayed shut for 1000 ms"));
  // The default window, never reopened: 65,535 bytes go, then the same.
  out = server.attack({"stall-stream", "--window", "65535"});
  CHECK(contains(out, "rst 1 CANCEL\n"));
  CHECK(contains(out, "data 1 bytes=65535\n"));
  const long long sent = server.produced(1);
  CHECK(sent >= 65535);
  CHECK(sent <= 65535 + 64 * 1024 + 16 * 1024);
  server.check_serves_a_fresh_client();
}

TEST_CASE("h2 stall: a connection window kept shut with responses waiting ends the connection") {
  H2TestServer server({"--h2-stall-timeout", "1"});
  const std::string out = server.attack({"stall-connection"});
  INFO(out);
  CHECK(contains(out, "goaway ENHANCE_YOUR_CALM last=3\n"));
  CHECK(contains(out, "\nclosed\n"));
  CHECK(server.logged("the client kept the connection's flow-control window shut for 1000 ms"));
  server.check_serves_a_fresh_client();
}

TEST_CASE("h2 stall: a client that reads nothing is aborted and its response stops") {
  H2TestServer server({"--h2-stall-timeout", "1"});
  auto peer = integration::python_peer(
      "h2_attack.py", {"no-read", "--port", server.port_text(), "--path", "/bytes/1073741824"});
  REQUIRE(peer.read_line(20s) == "sent");
  // The body is 1 GiB; what was produced before the abort is what the socket and the kernel
  // took plus the buffers, far from all of it.
  const long long produced = server.produced(1);
  CHECK(produced > 0);
  CHECK(produced < 64ll << 20);
  CHECK(server.logged("the client read nothing for 1000 ms (h2-stall-timeout)"));
  server.check_serves_a_fresh_client();
}

TEST_CASE("h2: a stream reset mid-download leaves the two beside it byte-exact") {
  H2TestServer server;
  const std::string out = server.attack({"three-downloads", "--size", "8388608"});
  INFO(out);
  CHECK(contains(out, "cancelled 3 at "));
  CHECK(contains(out, "stream 1 complete ok bytes=8388608\n"));
  CHECK(contains(out, "stream 5 complete ok bytes=8388608\n"));
  CHECK(server.produced(3) >= 0);  // the server saw stream 3 end unfinished
}

TEST_CASE("h2: a 1 GiB download over one stream keeps the server's memory bounded") {
  H2TestServer server;
  const auto pid = server.process().pid();
  const auto rss_before = test_support::rss_kib(pid);
  Process curl({"curl", "--silent", "--show-error", "--max-time", "100", "--http2-prior-knowledge",
                "--output", "/dev/null", "--write-out",
                "%{http_version} %{http_code} %{size_download}\n",
                "http://127.0.0.1:" + server.port_text() + "/bytes/1073741824"});
  CHECK(output_of(curl, 110s) == "2 200 1073741824\n");
  CHECK(server.produced(1, true) == 1073741824);
  // A leak guard, not a measure: the peak of the whole download against the idle server.
  const auto peak = test_support::peak_rss_kib(pid);
  INFO("rss before " << rss_before << " KiB, peak " << peak << " KiB");
  CHECK(peak - rss_before < 64 * 1024);
}

TEST_CASE("h2: SIGTERM sends GOAWAY, the stream in flight finishes, a later one is not taken") {
  H2TestServer server({"--drain-timeout", "60"});
  auto peer = integration::python_peer(
      "h2_attack.py", {"drain", "--port", server.port_text(), "--size", "4194304"});
  REQUIRE(peer.read_line(20s) == "waiting");
  server.process().signal(SIGTERM);
  const std::string out = output_of(peer, 60s);
  INFO(out);
  CHECK(contains(out, "goaway NO_ERROR last=1\n"));
  CHECK(contains(out, "stream 1 complete ok bytes=4194304\n"));
  // Stream 3 came after the GOAWAY's last stream: never answered.
  CHECK(contains(out, "late stream 3 status=none"));
  CHECK(contains(out, "\nclosed\n"));
  CHECK(integration::finish(server.process(), 30s) == 0);
}

TEST_CASE("h2: a stream still held at the drain deadline is cut off there") {
  H2TestServer server({"--drain-timeout", "1"});
  auto peer = integration::python_peer(
      "h2_attack.py", {"drain", "--hold", "--port", server.port_text(), "--size", "4194304"});
  REQUIRE(peer.read_line(20s) == "waiting");
  server.process().signal(SIGTERM);
  const std::string out = output_of(peer, 60s);
  INFO(out);
  CHECK(contains(out, "goaway NO_ERROR last=1\n"));
  // The client never opened its window again: one window's worth came, then the deadline.
  CHECK(contains(out, "stream 1 BAD bytes=65535\n"));
  CHECK((contains(out, "\nreset\n") || contains(out, "\nclosed\n")));
  CHECK(server.produced(1) >= 65535);
  CHECK(integration::finish(server.process(), 30s) == 0);
  CHECK(contains(server.process().transcript(), "drain deadline passed: aborting 1 connection(s)"));
}
