// WebSockets through tlsreactor-proxy over wss:// (the proxy's TLS with its development
// certificate), and the tunnel machinery they share with CONNECT: Python's websockets library
// (peers/ws_peer.py) as the upstream echo server and as a client, Node's ws module
// (peers/ws_client.js) as a second client. Also the Upgrades the proxy does not forward, a 403
// instead of the switch, the tunnel idle timeout, a SIGTERM drain with tunnels open, /metrics
// and the access log.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/Peers.hpp"
#include "tests/integration/ProxyPeers.hpp"
#include "tests/support/ProcStats.hpp"
#include "tests/support/TestDir.hpp"
#include "tests/support/TestPki.hpp"

using namespace std::chrono_literals;
using integration::admin_port;
using integration::contains;
using integration::output_of;
using integration::Process;
using integration::ProxyServer;
using integration::python_peer;

namespace {

// peers/ws_peer.py serve: the upstream, plain or (with a certificate) TLS; or another of its
// servers (eof-server).
class WsUpstream {
 public:
  explicit WsUpstream(std::vector<std::string> extra = {}, const std::string& command = "serve")
      : process_(python_peer("ws_peer.py", with_command(command, std::move(extra)))) {
    const auto line = process_.read_line(20s);
    REQUIRE_MESSAGE(line.has_value(), "ws upstream did not start\n" << process_.transcript());
    std::smatch m;
    REQUIRE(std::regex_match(*line, m, std::regex(R"(ws_peer: listening on (\S+))")));
    address_ = m[1];
  }
  const std::string& address() const { return address_; }
  std::string url(bool tls = false) const { return (tls ? "https://" : "http://") + address_; }
  // The next event line the server printed ("server: closed 1000"), waiting for it.
  std::string next_line() {
    const auto line = process_.read_line(60s);
    REQUIRE_MESSAGE(line.has_value(), process_.transcript());
    return *line;
  }

 private:
  static std::vector<std::string> with_command(const std::string& command,
                                               std::vector<std::string> extra) {
    extra.insert(extra.begin(), command);
    return extra;
  }
  Process process_;
  std::string address_;
};

std::string wss(const ProxyServer& proxy) {
  return "wss://127.0.0.1:" + proxy.port_text();
}

// ws_peer.py client: one connection per scenario, in order.
Process ws_client(const ProxyServer& proxy, std::vector<std::string> scenarios) {
  std::vector<std::string> args{"client", "--url", wss(proxy)};
  args.insert(args.end(), scenarios.begin(), scenarios.end());
  return python_peer("ws_peer.py", std::move(args));
}

std::string next_line(Process& peer) {
  const auto line = peer.read_line(60s);
  REQUIRE_MESSAGE(line.has_value(), peer.transcript());
  return *line;
}

// /metrics parsed by the Prometheus client library, once it shows `wanted` (bounded in tries:
// a close reaches the proxy a little after the peer saw it).
std::string scrape_until(const std::string& port, const std::string& wanted) {
  std::string samples;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto peer = python_peer("admin_peer.py", {"metrics", "--port", port});
    samples = output_of(peer);
    if (contains(samples, wanted)) break;
    std::this_thread::sleep_for(100ms);
  }
  return samples;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

const char* const kUpgradeFields =
    "|Connection: Upgrade|Upgrade: websocket|Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
    "|Sec-WebSocket-Version: 13";

}  // namespace

TEST_CASE(
    "websockets through the proxy: ten thousand messages in order and 16 MiB and fragments and "
    "ping and close codes end to end") {
  test_support::TestDir dir;
  WsUpstream upstream;
  ProxyServer proxy(dir, {"--upstream", upstream.url()});
  auto client = ws_client(proxy, {"many:10000", "big:16777216", "fragments:7", "ping", "close:4001",
                                  "server-close:4002"});
  CHECK(output_of(client, 120s) ==
        "many: 10000 in order\nbig: 16777216 echoed\nfragments: 7 echoed\nping: pong\n"
        "close: 4001\nserver-close: 4002\n");
  // The server saw each close with the code its peer sent: 1000 from the websockets client's
  // own close, then the client's 4001, then its own 4002 echoed back by the client.
  std::vector<std::string> closes;
  for (int i = 0; i < 6; ++i) closes.push_back(upstream.next_line());
  CHECK(closes == std::vector<std::string>{"server: closed 1000", "server: closed 1000",
                                           "server: closed 1000", "server: closed 1000",
                                           "server: closed 4001", "server: closed 4002"});
  proxy.stop();
}

TEST_CASE("wss:// through the proxy to hello's /ws: python and node clients, 16 MiB, close codes") {
  test_support::TestDir dir;
  integration::HelloServer hello({"--max-message-bytes", "16777216"});
  ProxyServer proxy(dir, {"--upstream", hello.url("")});
  auto client =
      python_peer("ws_peer.py", {"client", "--url", wss(proxy), "--path", "/ws", "many:10000",
                                 "big:16777216", "fragments:7", "ping", "close:4001"});
  CHECK(output_of(client, 120s) ==
        "many: 10000 in order\nbig: 16777216 echoed\nfragments: 7 echoed\nping: pong\n"
        "close: 4001\n");
  Process node({"env", "NODE_PATH=/usr/share/nodejs", "node",
                std::string(TLSREACTOR_PEERS_DIR) + "/ws_client.js", wss(proxy) + "/ws", "10000",
                "16777216", "4005"});
  CHECK(output_of(node, 120s) ==
        "many: 10000 in order\nbig: 16777216 echoed\nping: pong\nclose: 4005\n");
  proxy.stop();
  hello.stop();
}

TEST_CASE("a frame the client sends behind its handshake, before the 101, is relayed after it") {
  test_support::TestDir dir;
  WsUpstream upstream;
  ProxyServer proxy(dir, {"--upstream", upstream.url()});
  auto peer = python_peer("ws_peer.py", {"early", "--port", proxy.port_text()});
  CHECK(output_of(peer) == "early: 101\nearly: echoed early\n");
  proxy.stop();
}

TEST_CASE("node's ws client talks through the proxy: messages, 16 MiB, ping, its close code") {
  test_support::TestDir dir;
  WsUpstream upstream;
  ProxyServer proxy(dir, {"--upstream", upstream.url()});
  Process node({"env", "NODE_PATH=/usr/share/nodejs", "node",
                std::string(TLSREACTOR_PEERS_DIR) + "/ws_client.js", wss(proxy) + "/echo", "10000",
                "16777216", "4005"});
  CHECK(output_of(node, 120s) ==
        "many: 10000 in order\nbig: 16777216 echoed\nping: pong\nclose: 4005\n");
  CHECK(upstream.next_line() == "server: closed 4005");
  proxy.stop();
}

TEST_CASE("a websocket reaches an https:// upstream, verified against --upstream-ca") {
  test_support::TestDir dir;
  test_support::TestPki pki;
  WsUpstream upstream({"--cert", pki.ecdsa.leaf.cert_file, "--key", pki.ecdsa.leaf.key_file});
  ProxyServer proxy(dir, {"--upstream", "https://localhost:" + upstream.address().substr(10),
                          "--upstream-ca", pki.ecdsa.ca_file});
  auto client = ws_client(proxy, {"many:1000", "big:1048576", "close:4003"});
  CHECK(output_of(client) == "many: 1000 in order\nbig: 1048576 echoed\nclose: 4003\n");
  proxy.stop();
}

TEST_CASE("an abrupt close on either side of a websocket tears down the other") {
  test_support::TestDir dir;
  WsUpstream upstream;
  ProxyServer proxy(dir, {"--upstream", upstream.url()});
  // The client drops its connection without a close frame: the server's end goes too (1006:
  // no close frame came).
  auto client = ws_client(proxy, {"abort"});
  CHECK(output_of(client) == "abort: done\n");
  CHECK(upstream.next_line() == "server: closed 1006");
  // The server drops its connection: the client's end goes too.
  auto second = ws_client(proxy, {"server-abort"});
  CHECK(output_of(second) == "server-abort: 1006\n");
  CHECK(upstream.next_line() == "server: closed 1006");
  proxy.stop();
}

TEST_CASE(
    "a tunnel passes a half-close on: the client's FIN reaches the far end, the answer comes back") {
  test_support::TestDir dir;
  WsUpstream far({}, "eof-server");
  ProxyServer proxy(dir, {"--allow-connect", far.address()}, true);
  auto tunnel = python_peer("ws_peer.py", {"connect", "--plain", "--port", proxy.port_text(),
                                           "--to", far.address(), "--send", "100000"});
  CHECK(output_of(tunnel) == "connect: 200\nreply: got 100000\nconnect: closed\n");
  proxy.stop();
}

TEST_CASE("a client that never reads blocks the upstream, and the proxy's memory stays bounded") {
  test_support::TestDir dir;
  WsUpstream upstream({"--flood-mib", "512"});
  ProxyServer proxy(dir, {"--upstream", upstream.url()});
  const std::uint64_t before = test_support::rss_kib(proxy.process().pid());
  Process stall = python_peer("ws_peer.py", {"stall", "--port", proxy.port_text()});
  CHECK(next_line(stall) == "stall: sent");
  // The server's sends stop completing: everything between it and the client is full.
  const std::string blocked = upstream.next_line();
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_match(blocked, m, std::regex(R"(server: blocked after (\d+))")),
                  blocked);
  const std::uint64_t sent = std::stoull(m[1]);
  const std::uint64_t after = test_support::rss_kib(proxy.process().pid());
  MESSAGE("upstream blocked after " << sent / (1 << 20) << " MiB; proxy RSS " << before
                                    << " KiB before, " << after << " KiB while blocked");
  // Socket buffers on both sides and the proxy's write limits, far from the 512 MiB on offer.
  CHECK(sent < 64ull << 20);
  CHECK(after < before + 64 * 1024);
  proxy.stop();
}

TEST_CASE("a 403 instead of the switch is relayed as a response and the connection serves on") {
  test_support::TestDir dir;
  WsUpstream upstream;
  ProxyServer proxy(dir, {"--upstream", upstream.url()});
  auto peer =
      python_peer("ws_peer.py", {"http", "--port", proxy.port_text(),
                                 std::string("GET /forbidden") + kUpgradeFields, "GET /hello"});
  CHECK(output_of(peer) == "403 forbidden\n200 hello\nreused\n");
  proxy.stop();
}

TEST_CASE("Upgrade: h2c is not forwarded: the upstream sees neither it nor Connection: upgrade") {
  test_support::TestDir dir;
  WsUpstream upstream;
  ProxyServer proxy(dir, {"--upstream", upstream.url()});
  auto peer = python_peer(
      "ws_peer.py",
      {"http", "--port", proxy.port_text(),
       "GET /headers|Connection: Upgrade, HTTP2-Settings|Upgrade: h2c|HTTP2-Settings: AAMAAABkAAQ",
       "GET /hello"});
  CHECK(output_of(peer) == "200 upgrade=- connection=-\n200 hello\nreused\n");
  proxy.stop();
}

TEST_CASE("a tunnel silent for --tunnel-idle-timeout is closed on both sides") {
  test_support::TestDir dir;
  WsUpstream upstream;
  ProxyServer proxy(dir, {"--upstream", upstream.url(), "--tunnel-idle-timeout", "1"});
  auto client = ws_client(proxy, {"wait"});
  CHECK(next_line(client) == "open");
  // Closed by the proxy (no close frame: 1006), not by either peer; the watchdog is the
  // client's own 60 s limit.
  CHECK(output_of(client) == "wait: closed 1006\n");
  CHECK(upstream.next_line() == "server: closed 1006");
  proxy.stop();
}

TEST_CASE("SIGTERM: open websocket and CONNECT tunnels relay on, then end at the drain deadline") {
  test_support::TestDir dir;
  WsUpstream upstream;
  ProxyServer proxy(dir, {"--upstream", upstream.url(), "--drain-timeout", "8", "--allow-connect",
                          upstream.address()});
  const std::string go = dir.path("draining");
  auto client = ws_client(proxy, {"drain:" + go});
  CHECK(next_line(client) == "open");
  auto tunnel = python_peer(
      "ws_peer.py", {"connect", "--port", proxy.port_text(), "--to", upstream.address(), "--wait"});
  CHECK(next_line(tunnel) == "connect: 200");
  proxy.process().signal(SIGTERM);
  REQUIRE_MESSAGE(proxy.process().wait_for_stderr("draining ", 1, 20s),
                  proxy.process().transcript());
  std::ofstream(go).put('\n');
  // During the drain the websocket still relays; at the deadline both tunnels are ended.
  CHECK(next_line(client) == "drain: during the drain");
  CHECK(output_of(client) == "drain: closed 1006\n");
  CHECK(output_of(tunnel) == "connect: closed\n");
  CHECK_MESSAGE(integration::finish(proxy.process(), 30s) == 0, proxy.process().transcript());
}

TEST_CASE("tunnels show in /metrics while open and make one access-log line each when they end") {
  test_support::TestDir dir;
  WsUpstream upstream;
  const std::string log = dir.path("access.log");
  ProxyServer proxy(dir, {"--upstream", upstream.url(), "--admin", "127.0.0.1:0", "--access-log",
                          log, "--allow-connect", upstream.address()});
  const std::string admin = admin_port(proxy);
  auto client = ws_client(proxy, {"wait"});
  CHECK(next_line(client) == "open");
  const std::string open = scrape_until(admin, "tlsreactor_proxy_tunnels_active{} 1\n");
  CHECK_MESSAGE(contains(open, "tlsreactor_proxy_tunnels_active{} 1\n"), open);
  CHECK_MESSAGE(contains(open, "tlsreactor_proxy_tunnels_total{kind=websocket} 1\n"), open);
  CHECK_MESSAGE(contains(open, "tlsreactor_proxy_tunnels_total{kind=connect} 0\n"), open);
  // The line comes when the tunnel ends, not when it opens.
  CHECK_FALSE(contains(read_file(log), "/echo"));
  client.signal(SIGKILL);
  integration::finish(client);
  CHECK(upstream.next_line() == "server: closed 1006");

  auto tunnel = python_peer("ws_peer.py",
                            {"connect", "--port", proxy.port_text(), "--to", upstream.address()});
  CHECK(output_of(tunnel) == "connect: 200\nHTTP/1.1 200 OK\nconnect: closed\n");
  const std::string done = scrape_until(admin, "tlsreactor_proxy_tunnels_active{} 0\n");
  CHECK_MESSAGE(contains(done, "tlsreactor_proxy_tunnels_active{} 0\n"), done);
  CHECK_MESSAGE(contains(done, "tlsreactor_proxy_tunnels_total{kind=websocket} 1\n"), done);
  CHECK_MESSAGE(contains(done, "tlsreactor_proxy_tunnels_total{kind=connect} 1\n"), done);
  CHECK_MESSAGE(contains(done, "tlsreactor_proxy_requests_total{class=1xx} 1\n"), done);

  const std::string lines = read_file(log);
  INFO(lines);
  // TIME client "METHOD TARGET" STATUS BYTES_IN BYTES_OUT upstream=... upstream_ms=... ...
  const std::regex ws_line(R"(\S+ \S+ "GET /echo" 101 (\d+) (\d+) upstream=http://\S+ .*)");
  const std::regex connect_line("\\S+ \\S+ \"CONNECT " + upstream.address() +
                                "\" 200 (\\d+) (\\d+) upstream=tcp://\\S+ .*");
  std::smatch m;
  std::istringstream in(lines);
  int ws_lines = 0, connect_lines = 0;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_match(line, m, ws_line)) {
      ++ws_lines;
      // The handshake and the message one way, the 101 and the echo the other.
      CHECK(std::stoull(m[1]) > 100);
      CHECK(std::stoull(m[2]) > 100);
    } else if (std::regex_match(line, m, connect_line)) {
      ++connect_lines;
      CHECK(std::stoull(m[2]) > 40);  // the 200 head and the response through the tunnel
    }
  }
  CHECK(ws_lines == 1);
  CHECK(connect_lines == 1);
  proxy.stop();
}
