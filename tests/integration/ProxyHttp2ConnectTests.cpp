// tlsreactor-proxy's forward mode over HTTP/2: plain CONNECT streams (RFC 9113 8.5) from
// Python's h2 (peers/h2_connect.py) to TCP destinations (peers/tcp_peer.py, Python's
// http.server in peers/upstream_peer.py), beside ordinary requests on the same connection, with
// the same policy as HTTP/1.1's CONNECT (peers/ws_peer.py connect).
#include <doctest/doctest.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/Peers.hpp"
#include "tests/integration/ProxyPeers.hpp"
#include "tests/support/TestDir.hpp"

using namespace std::chrono_literals;
using integration::admin_port;
using integration::contains;
using integration::output_of;
using integration::Process;
using integration::ProxyServer;
using integration::python_peer;
using integration::Upstream;

namespace {

// peers/tcp_peer.py MODE... on an ephemeral port.
class TcpPeer {
 public:
  explicit TcpPeer(std::vector<std::string> args) : process_(python_peer("tcp_peer.py", args)) {
    const auto line = process_.read_line(20s);
    REQUIRE_MESSAGE(line.has_value(), "tcp_peer did not start\n" << process_.transcript());
    std::smatch m;
    REQUIRE(std::regex_match(*line, m, std::regex(R"(tcp_peer: listening on (\S+))")));
    address_ = m[1];
  }
  const std::string& address() const { return address_; }
  // The next line it printed ("speak: received N pattern"), waiting for it.
  std::string next_line() {
    const auto line = process_.read_line(60s);
    REQUIRE_MESSAGE(line.has_value(), process_.transcript());
    return *line;
  }

 private:
  Process process_;
  std::string address_;
};

// peers/h2_connect.py against the proxy: one JSON line per stream, after checking it exited 0.
std::vector<std::string> h2_connect(const ProxyServer& proxy, std::vector<std::string> args) {
  args.insert(args.begin(), {"--port", proxy.port_text()});
  Process client = python_peer("h2_connect.py", std::move(args));
  const std::string out = output_of(client, 90s);
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < out.size();) {
    const std::size_t end = out.find('\n', at);
    lines.push_back(out.substr(at, end - at));
    at = end + 1;
  }
  REQUIRE_MESSAGE(!lines.empty(), out);
  CHECK(lines.back() == "h2_connect: done");
  lines.pop_back();
  return lines;
}

// The status of an HTTP/1.1 CONNECT to `target` through the proxy (peers/ws_peer.py connect).
std::string http1_connect_status(const ProxyServer& proxy, const std::string& target) {
  Process client =
      python_peer("ws_peer.py", {"connect", "--port", proxy.port_text(), "--to", target, "--wait"});
  const std::string out = output_of(client, 60s);
  return out.substr(0, out.find('\n'));
}

std::string upstream_address(const Upstream& upstream) {
  return upstream.url().substr(std::string("http://").size());
}

}  // namespace

TEST_SUITE("proxy-http2-connect") {
  TEST_CASE(
      "two CONNECT streams and a GET share one HTTP/2 connection: 1 MiB echoed byte-exact after "
      "the client's half-close, an HTTP exchange inside the other tunnel") {
    test_support::TestDir dir;
    TcpPeer echo({"echo"});
    Upstream upstream;
    const std::string http = upstream_address(upstream);
    const std::string log = dir.path("access.log");
    ProxyServer proxy(dir, {"--upstream", upstream.url(), "--admin", "127.0.0.1:0", "--access-log",
                            log, "--allow-connect", echo.address() + "," + http});
    const std::string admin = admin_port(proxy);

    const std::uint64_t bytes = 1100000;  // more than 1 MiB: many windows' worth each way
    const auto streams =
        h2_connect(proxy, {"--tunnel", "echo," + echo.address() + "," + std::to_string(bytes),
                           "--tunnel", "http," + http, "--get", "/headers"});
    REQUIRE(streams.size() == 3);
    const std::string all = streams[0] + "\n" + streams[1] + "\n" + streams[2];
    INFO(all);
    // The echo ends only when the client's END_STREAM reached the destination as a FIN.
    CHECK(contains(streams[0], "\"status\": 200, \"length\": " + std::to_string(bytes) +
                                   ", \"pattern\": true"));
    CHECK(contains(streams[0], "\"reset\": null"));
    CHECK(contains(streams[1], "\"status\": 200,"));
    CHECK(std::regex_search(streams[1], std::regex(R"("first_line": "HTTP/1\.[01] 200 OK")")));
    CHECK(contains(streams[2], "\"kind\": \"get\", \"status\": 200,"));

    Process scrape = python_peer("admin_peer.py", {"metrics", "--port", admin});
    const std::string metrics = output_of(scrape);
    CHECK_MESSAGE(contains(metrics, "tlsreactor_proxy_tunnels_total{kind=connect} 2\n"), metrics);
    proxy.stop();
    const std::string lines = test_support::TestDir::read(log);
    // The same line as an HTTP/1.1 CONNECT's, with the bytes relayed each way.
    const std::string line = "\"CONNECT " + echo.address() + "\" 200 " + std::to_string(bytes) +
                             " " + std::to_string(bytes) + " upstream=tcp://" + echo.address();
    CHECK_MESSAGE(contains(lines, line), lines);
    CHECK_MESSAGE(contains(lines, "\"CONNECT " + http + "\" 200 "), lines);
    CHECK_MESSAGE(contains(lines, "protocol=HTTP/2 stream=1 "), lines);
  }

  TEST_CASE(
      "the destination's FIN ends the CONNECT stream, and the client's DATA still reaches it") {
    test_support::TestDir dir;
    TcpPeer speaker({"speak", "300000"});
    ProxyServer proxy(dir, {"--allow-connect", speaker.address()});
    // The client sends only after the stream's END_STREAM (the destination's FIN) came.
    const auto streams = h2_connect(proxy, {"--tunnel", "late," + speaker.address() + ",200000"});
    REQUIRE(streams.size() == 1);
    CHECK_MESSAGE(contains(streams[0], "\"status\": 200, \"length\": 300000, \"pattern\": true"),
                  streams[0]);
    CHECK_MESSAGE(contains(streams[0], "\"reset\": null"), streams[0]);
    CHECK(speaker.next_line() == "speak: received 200000 pattern");
    proxy.stop();
  }

  TEST_CASE("a refused CONNECT over HTTP/2 gets the status HTTP/1.1's gets: 403, 502, 400, 501") {
    test_support::TestDir dir;
    const std::string closed = "127.0.0.1:" + std::to_string(integration::closed_port());
    ProxyServer proxy(dir, {"--allow-connect", closed});
    const auto streams = h2_connect(proxy, {"--tunnel", "open,127.0.0.1:9", "--tunnel",
                                            "open," + closed, "--tunnel", "open,no-port"});
    REQUIRE(streams.size() == 3);
    CHECK_MESSAGE(contains(streams[0], "\"status\": 403,"), streams[0]);
    CHECK_MESSAGE(contains(streams[1], "\"status\": 502,"), streams[1]);
    CHECK_MESSAGE(contains(streams[2], "\"status\": 400,"), streams[2]);
    CHECK(http1_connect_status(proxy, "127.0.0.1:9") == "connect: 403");
    CHECK(http1_connect_status(proxy, closed) == "connect: 502");
    CHECK(http1_connect_status(proxy, "no-port") == "connect: 400");
    proxy.stop();

    // Without --allow-connect the forward mode is off on both protocols alike.
    Upstream upstream;
    ProxyServer off(dir, {"--upstream", upstream.url()});
    const auto refused = h2_connect(off, {"--tunnel", "open," + closed, "--get", "/headers"});
    REQUIRE(refused.size() == 2);
    CHECK_MESSAGE(contains(refused[0], "\"status\": 501,"), refused[0]);
    CHECK_MESSAGE(contains(refused[1], "\"status\": 200,"), refused[1]);
    CHECK(http1_connect_status(off, closed) == "connect: 501");
    off.stop();
  }

  TEST_CASE("--tunnel-idle-timeout resets a CONNECT stream that relays nothing") {
    test_support::TestDir dir;
    TcpPeer echo({"echo"});
    ProxyServer proxy(dir, {"--allow-connect", echo.address(), "--tunnel-idle-timeout", "1"});
    // "open" sends nothing and waits: only the idle timeout ends the stream.
    const auto streams = h2_connect(proxy, {"--tunnel", "open," + echo.address()});
    REQUIRE(streams.size() == 1);
    CHECK_MESSAGE(contains(streams[0], "\"status\": 200,"), streams[0]);
    CHECK_MESSAGE(!contains(streams[0], "\"reset\": null"), streams[0]);
    proxy.stop();
  }
}
