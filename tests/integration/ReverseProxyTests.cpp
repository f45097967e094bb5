// tlsreactor-proxy as a reverse proxy: curl and python3 clients in front, python3 http.server
// (peers/upstream_peer.py) and tlsreactor-hello behind, all on loopback.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "apps/proxy/Metrics.hpp"
#include "apps/proxy/ProxyOptions.hpp"
#include "apps/proxy/ReverseProxy.hpp"
#include "reactor/TcpListener.hpp"
#include "tests/integration/Peers.hpp"
#include "tests/integration/ProxyPeers.hpp"
#include "tests/integration/RawClient.hpp"
#include "tests/support/LoopThread.hpp"
#include "tests/support/ProcStats.hpp"
#include "tests/support/StuckListener.hpp"
#include "tests/support/TestDir.hpp"
#include "tests/support/TestPki.hpp"
#include "tls/TlsTransport.hpp"

using integration::AppServer;
using integration::contains;
using integration::HelloServer;
using integration::occurrences;
using integration::output_of;
using integration::Process;
using integration::RawClient;
using integration::Upstream;
using Proxy = integration::ProxyServer;

namespace {

std::string sha256_of(const std::string& file) {
  Process peer({"sha256sum", file});
  const std::string out = output_of(peer);
  return out.substr(0, out.find(' '));
}

// A file of `size` bytes that is not a repeating pattern (so a digest tells misplaced bytes).
std::string write_body(const test_support::TestDir& dir, std::size_t size) {
  const std::string file = dir.path("body");
  std::ofstream out(file, std::ios::binary);
  std::uint32_t x = 12345;
  for (std::size_t i = 0; i < size; ++i) {
    x = x * 1103515245U + 12345U;
    out.put(static_cast<char>(x >> 24));
  }
  return file;
}

// These are the HTTP/1.1 side's tests (ProxyHttp2Tests.cpp has HTTP/2's): curl is told so,
// where it would otherwise take the h2 the proxy offers.
std::string curl(std::vector<std::string> args) {
  args.insert(args.begin(), "--http1.1");
  return integration::curl(std::move(args));
}

std::string read_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE(
    "GET, POST and HEAD through the TLS proxy carry the proxy headers and no hop-by-hop ones") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url()});

  const std::string seen = curl({"--include", "-H", "Host: app.example", "-H",
                                 "X-Forwarded-For: 203.0.113.9", "-H", "Connection: x-secret", "-H",
                                 "X-Secret: 1", "-H", "Proxy-Authorization: Basic eA==", "-H",
                                 "Keep-Alive: timeout=5", proxy.url("/headers")});
  INFO(seen);
  CHECK(contains(seen, "HTTP/1.1 200 OK\r\n"));
  CHECK(contains(seen, "Via: 1.1 tlsreactor\r\n"));  // on the response
  CHECK(contains(seen, "GET /headers HTTP/1.1\n"));
  CHECK(contains(seen, "\nHost: app.example\n"));
  CHECK(contains(seen, "\nX-Forwarded-For: 203.0.113.9, 127.0.0.1\n"));
  CHECK(contains(seen, "\nX-Forwarded-Proto: https\n"));
  CHECK(contains(seen, "\nVia: 1.1 tlsreactor\n"));
  CHECK_FALSE(contains(seen, "X-Secret"));
  CHECK_FALSE(contains(seen, "Proxy-Authorization"));
  CHECK_FALSE(contains(seen, "Keep-Alive"));
  // What the upstream received (the body) has no Connection field; the response's own says
  // how this hop goes on.
  CHECK_FALSE(contains(seen.substr(seen.find("\r\n\r\n")), "\nConnection:"));

  const std::string body = write_body(dir, 300000);
  CHECK(curl({"--data-binary", "@" + body, proxy.url("/digest")}) ==
        "300000 " + sha256_of(body) + "\n");

  const std::string head =
      curl({"--head", "--write-out", "downloaded=%{size_download}\n", proxy.url("/headers")});
  CHECK_MESSAGE(contains(head, "HTTP/1.1 200 OK\r\n"), head);
  CHECK_MESSAGE(contains(head, "Content-Length: "), head);
  CHECK_MESSAGE(contains(head, "downloaded=0\n"), head);
  proxy.stop();
}

TEST_CASE("keep-alive: one client connection and one upstream connection carry several requests") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url()});
  const std::string out =
      curl({"--write-out", "connects=%{num_connects}\n", proxy.url("/name"), proxy.url("/name"),
            proxy.url("/headers"), proxy.url("/connections")});
  INFO(out);
  CHECK(occurrences(out, "connects=1\n") == 1);  // the client connected once
  CHECK(occurrences(out, "connects=0\n") == 3);  // and reused that connection
  CHECK(contains(out, "\n1\nconnects=0\n"));     // the upstream accepted one connection
  proxy.stop();
}

TEST_CASE("chunked bodies stream both ways, re-chunked or close-delimited as the client needs") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url()});

  const std::string body = write_body(dir, 200000);
  const std::string up = curl({"--include", "-H", "Transfer-Encoding: chunked", "--data-binary",
                               "@" + body, proxy.url("/digest")});
  CHECK_MESSAGE(contains(up, "X-Framing: chunked\r\n"), up);
  CHECK_MESSAGE(contains(up, "\r\n\r\n200000 " + sha256_of(body) + "\n"), up);

  // Chunked from the upstream, chunked to the client, the body byte-exact.
  const std::string head_file = dir.path("head");
  const std::string body_file = dir.path("download");
  CHECK(curl({"--dump-header", head_file, "--output", body_file, "--write-out",
              "%{size_download}\n", proxy.url("/chunked?n=50&size=1000")}) == "50000\n");
  CHECK(contains(read_file(head_file), "Transfer-Encoding: chunked\r\n"));
  auto check = integration::python_peer("http_peer.py",
                                        {"verify-file", "--file", body_file, "--bytes", "50000"});
  integration::check_peer_succeeds(check);

  // A body that ends at the upstream's close reaches an HTTP/1.1 client chunked, and the
  // client connection stays usable.
  CHECK(curl({"--dump-header", head_file, "--output", body_file, "--write-out",
              "%{size_download}\n", proxy.url("/eof?size=200000")}) == "200000\n");
  const std::string eof_head = read_file(head_file);
  CHECK_MESSAGE(contains(eof_head, "Transfer-Encoding: chunked\r\n"), eof_head);
  CHECK_MESSAGE(!contains(eof_head, "Connection: close\r\n"), eof_head);
  auto eof_check = integration::python_peer(
      "http_peer.py", {"verify-file", "--file", body_file, "--bytes", "200000"});
  integration::check_peer_succeeds(eof_check);
  proxy.stop();

  // An HTTP/1.0 client gets a chunked upstream body without chunking, ended by the close.
  Proxy plain(dir, {"--upstream", upstream.url()}, true);
  const auto ex = integration::http_exchange(
      plain.port_text(), "GET /chunked?n=5&size=1000 HTTP/1.0\r\nHost: test\r\n\r\n");
  REQUIRE_MESSAGE(ex.responses.size() == 1, ex.output);
  CHECK_MESSAGE(contains(ex.responses[0], "response 1: 200 OK\n"), ex.output);
  CHECK_FALSE(contains(ex.responses[0], "transfer-encoding"));
  CHECK(contains(ex.responses[0], "header connection: close\n"));
  CHECK(contains(ex.responses[0], "body-length: 5000\nbody-pattern: ok\n"));
  CHECK(ex.end == "closed");
  plain.stop();
}

TEST_CASE("Expect 100-continue is answered by the proxy and the body then streams upstream") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url()}, true);
  auto peer = integration::python_peer("expect_peer.py", {"--port", proxy.port_text()});
  const std::string out = output_of(peer);
  INFO(out);
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex("expected: (\\d+ [0-9a-f]+)\n")));
  CHECK(contains(out, "interim: HTTP/1.1 100 Continue\n"));
  CHECK(contains(out, "response: HTTP/1.1 200 OK\n"));
  CHECK(contains(out, "body: b'" + m[1].str() + "\\n'\n"));
  // The upstream never saw the Expect: the proxy strips it once it answered it.
  const auto seen = integration::http_exchange(
      proxy.port_text(), "GET /headers HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n");
  REQUIRE(seen.responses.size() == 1);
  CHECK_FALSE(contains(seen.responses[0], "Expect"));
  proxy.stop();
}

TEST_CASE("an unreachable upstream gets 502, and with every upstream marked down 503") {
  test_support::TestDir dir;
  const auto a = std::to_string(integration::closed_port());
  const auto b = std::to_string(integration::closed_port());
  Proxy proxy(dir, {"--upstream", "http://127.0.0.1:" + a, "--upstream", "http://127.0.0.1:" + b,
                    "--upstream-down-time", "300"});
  const std::string first = curl({"--write-out", "%{http_code}\n", proxy.url("/")});
  CHECK_MESSAGE(contains(first, "no upstream could be reached"), first);
  CHECK_MESSAGE(first.ends_with("\n502\n"), first);
  const std::string second = curl({"--write-out", "%{http_code}\n", proxy.url("/")});
  CHECK_MESSAGE(contains(second, "no healthy upstream"), second);
  CHECK_MESSAGE(second.ends_with("\n503\n"), second);
  proxy.stop();
  const std::string log = proxy.process().transcript();
  CHECK_MESSAGE(occurrences(log, " is down: ") == 2, log);  // each tried once, then skipped
}

TEST_CASE("requests alternate between two upstreams and one that refuses is marked down") {
  test_support::TestDir dir;
  Upstream a("a");
  Upstream b("b");
  Proxy both(dir, {"--upstream", a.url(), "--upstream", b.url()});
  const std::string names =
      curl({both.url("/name"), both.url("/name"), both.url("/name"), both.url("/name")});
  CHECK_MESSAGE((names == "a\nb\na\nb\n" || names == "b\na\nb\na\n"), names);
  both.stop();

  const auto closed = std::to_string(integration::closed_port());
  Proxy one_down(dir, {"--upstream", "http://127.0.0.1:" + closed, "--upstream", a.url(),
                       "--upstream-down-time", "300"});
  CHECK(curl({one_down.url("/name"), one_down.url("/name"), one_down.url("/name"),
              one_down.url("/name")}) == "a\na\na\na\n");
  one_down.stop();
  const std::string log = one_down.process().transcript();
  CHECK_MESSAGE(occurrences(log, " is down: ") == 1, log);
}

TEST_CASE("a slow upstream gets 504 after the response timeout") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url(), "--response-timeout", "1"});
  const std::string out =
      curl({"--include", "--write-out", "%{http_code}\n", proxy.url("/slow?delay=8")});
  CHECK_MESSAGE(contains(out, "HTTP/1.1 504 Gateway Timeout\r\n"), out);
  // The upstream's failure is not the client's: its connection stays open, as nginx's does.
  CHECK_MESSAGE(contains(out, "Connection: keep-alive\r\n"), out);
  CHECK_MESSAGE(contains(out, "sent no response within 1 s"), out);
  proxy.stop();
}

TEST_CASE("oversized or too many request headers get 431 and a close") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir,
              {"--upstream", upstream.url(), "--max-header-bytes", "2048", "--max-headers", "10"},
              true);
  const auto big = integration::http_exchange(
      proxy.port_text(),
      "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4000, 'x') + "\r\n\r\n");
  REQUIRE_MESSAGE(big.responses.size() == 1, big.output);
  CHECK(contains(big.responses[0], "response 1: 431 "));
  CHECK(contains(big.responses[0], "header connection: close\n"));
  CHECK(big.end == "closed");
  std::string many = "GET / HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 20; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  const auto count = integration::http_exchange(proxy.port_text(), many + "\r\n");
  REQUIRE_MESSAGE(count.responses.size() == 1, count.output);
  CHECK(contains(count.responses[0], "response 1: 431 "));
  CHECK(contains(count.responses[0], "too many header fields"));
  CHECK(count.end == "closed");
  proxy.stop();
}

TEST_CASE("request smuggling attempts get 400 and the connection closes") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url()}, true);
  const std::vector<std::string> attempts{
      // Content-Length and Transfer-Encoding together.
      "POST /digest HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n"
      "\r\n0\r\n\r\n",
      // Two Content-Lengths.
      "POST /digest HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd",
      // A chunk size that is not hex.
      "POST /digest HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
      // Chunked, then a smuggled request hidden behind a bogus length.
      "POST /digest HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
      "8\r\nGET /x H\r\n0\r\n\r\n",
  };
  for (const auto& request : attempts) {
    const auto ex = integration::http_exchange(proxy.port_text(),
                                               request +
                                                   "GET /name HTTP/1.1\r\n"
                                                   "Host: t\r\n\r\n",
                                               {"POST", "GET"});
    INFO(ex.output);
    REQUIRE(!ex.responses.empty());
    CHECK(contains(ex.responses[0], "response 1: 400 Bad Request\n"));
    CHECK(contains(ex.responses[0], "header connection: close\n"));
    // The request after it was never answered: the connection closed first.
    CHECK((ex.responses.size() == 1 || contains(ex.responses[1], "response 2: none")));
    CHECK(ex.end == "closed");
  }
  proxy.stop();
}

TEST_CASE("a request head not finished within the header timeout gets 408") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url(), "--header-timeout", "1"}, true);
  const auto ex = integration::http_exchange(proxy.port_text(), "GET / HTTP/1.1\r\nHost: t\r\n");
  REQUIRE_MESSAGE(ex.responses.size() == 1, ex.output);
  CHECK(contains(ex.responses[0], "response 1: 408 Request Timeout\n"));
  CHECK(contains(ex.responses[0], "request head not received within 1 s"));
  CHECK(ex.end == "closed");
  proxy.stop();
}

TEST_CASE("pipelined requests are answered one at a time, in order") {
  test_support::TestDir dir;
  Upstream upstream("p");
  Proxy proxy(dir, {"--upstream", upstream.url()}, true);
  const auto ex = integration::http_exchange(
      proxy.port_text(),
      "GET /name HTTP/1.1\r\nHost: t\r\n\r\nHEAD /headers HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /headers HTTP/1.1\r\nHost: t\r\n\r\n",
      {"GET", "HEAD", "GET"});
  REQUIRE_MESSAGE(ex.responses.size() == 3, ex.output);
  CHECK(contains(ex.responses[0], "body: b'p\\n'\n"));
  CHECK(contains(ex.responses[1], "body-length: 0\n"));
  CHECK(contains(ex.responses[2], "GET /headers HTTP/1.1"));
  CHECK(ex.end == "open");
  // A client that half-closes after its pipelined requests gets them all answered, then the
  // close.
  const auto half = integration::http_exchange(
      proxy.port_text(),
      "GET /name HTTP/1.1\r\nHost: t\r\n\r\nGET /name HTTP/1.1\r\nHost: t\r\n\r\n", {"GET", "GET"},
      {"--half-close"});
  REQUIRE_MESSAGE(half.responses.size() == 2, half.output);
  CHECK(contains(half.responses[1], "body: b'p\\n'\n"));
  CHECK(half.end == "closed");
  proxy.stop();
}

TEST_CASE("an https upstream is verified against --upstream-ca and refused when unverifiable") {
  test_support::TestDir dir;
  HelloServer hello({"--tls", "--dev-cert-dir", dir.path("hello")});
  const std::string upstream = "https://localhost:" + hello.port_text();
  Proxy verified(dir, {"--upstream", upstream, "--upstream-ca", dir.path("hello/ca.pem")});
  CHECK(curl({verified.url("/")}) == "hello from tlsreactor\n");
  verified.stop();

  Proxy unverified(dir, {"--upstream", upstream});  // the system store does not know that CA
  const std::string out = curl({"--write-out", "%{http_code}\n", unverified.url("/")});
  CHECK_MESSAGE(out.ends_with("\n502\n"), out);
  CHECK_MESSAGE(contains(out, "certificate verify failed"), out);
  unverified.stop();

  Proxy insecure(dir, {"--upstream", upstream, "--upstream-insecure"});
  CHECK(curl({insecure.url("/")}) == "hello from tlsreactor\n");
  insecure.stop();
  CHECK(occurrences(insecure.process().transcript(), "NOT verified") == 1);
  hello.stop();
}

TEST_CASE("SIGTERM lets the request in flight finish with Connection close, then exits 0") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url()});
  Process client({"curl", "--silent", "--show-error", "--max-time", "30", "--insecure", "--http1.1",
                  "--include", proxy.url("/slow?delay=2")});
  // Once the upstream has the request, the proxy is in the middle of it.
  const auto received = upstream.process().read_line(std::chrono::seconds(20));
  REQUIRE_MESSAGE(received.has_value(), upstream.process().transcript());
  CHECK(*received == "received /slow?delay=2");
  proxy.process().signal(SIGTERM);
  const std::string out = output_of(client);
  CHECK_MESSAGE(contains(out, "HTTP/1.1 200 OK\r\n"), out);
  CHECK_MESSAGE(contains(out, "Connection: close\r\n"), out);
  CHECK_MESSAGE(out.ends_with("\r\n\r\nslow\n"), out);
  const int code = integration::finish(proxy.process(), std::chrono::seconds(15));
  CHECK_MESSAGE(code == 0, proxy.process().transcript());
}

TEST_CASE("a request body that stalls past the body timeout gets 408") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url(), "--body-timeout", "1"}, true);
  const auto ex = integration::http_exchange(
      proxy.port_text(), "POST /digest HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc",
      {"POST"});
  REQUIRE_MESSAGE(ex.responses.size() == 1, ex.output);
  CHECK(contains(ex.responses[0], "response 1: 408 Request Timeout\n"));
  CHECK(contains(ex.responses[0], "request body stalled for 1 s"));
  CHECK(ex.end == "closed");
  proxy.stop();
}

TEST_CASE("the access log has one JSON line per request with what was asked, answered and where") {
  test_support::TestDir dir;
  Upstream upstream;
  const std::string log_file = dir.path("access.log");
  Proxy proxy(
      dir, {"--upstream", upstream.url(), "--access-log", log_file, "--access-log-format", "json"});
  const std::string parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::string head =
      curl({"--output", "/dev/null", "--dump-header", "-", "--user-agent", "agent \"007\"", "-H",
            "traceparent: " + parent, proxy.url("/name"), proxy.url("/missing?x=\"y\"")});
  proxy.stop();
  const std::string log = read_file(log_file);
  INFO(log);
  REQUIRE(occurrences(log, "\n") == 2);
  const std::string first = log.substr(0, log.find('\n'));
  const std::string second = log.substr(first.size() + 1);
  // {"time":"2026-12-07T15:04:05.123Z","client":...
  CHECK(std::regex_search(
      first,
      std::regex(R"(^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","client":"127\.0\.0\.1:)")));
  CHECK(contains(first, "\"host\":\"127.0.0.1:" + proxy.port_text() + "\""));
  CHECK(contains(first, "\"user_agent\":\"agent \\\"007\\\"\""));
  CHECK(contains(first, "\"traceparent\":\"" + parent + "\""));
  // The id the response carried.
  std::smatch id;
  REQUIRE(std::regex_search(head, id, std::regex("X-Request-Id: ([0-9a-f]{32})")));
  CHECK(contains(first, "\"request_id\":\"" + id[1].str() + "\""));
  CHECK(contains(first, "\"tls_version\":\"TLSv1.3\""));
  CHECK(contains(first, "\"alpn\":\"http/1.1\""));
  CHECK(contains(first, "\"method\":\"GET\",\"target\":\"/name\",\"status\":200"));
  CHECK(contains(first, "\"upstream\":\"" + upstream.url() + "\""));
  CHECK(contains(second, "\"target\":\"/missing?x=\\\"y\\\"\",\"status\":404"));
}

TEST_CASE("a request the HTTP/1.1 driver refuses itself still makes an access-log line") {
  test_support::TestDir dir;
  Upstream upstream;
  const std::string log_file = dir.path("access.log");
  Proxy proxy(dir,
              {"--upstream", upstream.url(), "--access-log", log_file, "--access-log-format",
               "json", "--header-timeout", "1"},
              true);
  // Refused before any exchange exists: a malformed head, a version it does not serve, and a
  // head that never ends (the head timeout). The upstream sees none of them.
  const auto bad =
      integration::http_exchange(proxy.port_text(), "GET / HTTP/1.1\r\nHost t\r\n\r\n");
  CHECK_MESSAGE(contains(bad.output, "response 1: 400 Bad Request\n"), bad.output);
  const auto version =
      integration::http_exchange(proxy.port_text(), "GET / HTTP/2.0\r\nHost: t\r\n\r\n");
  CHECK_MESSAGE(contains(version.output, "response 1: 505 "), version.output);
  const auto slow = integration::http_exchange(proxy.port_text(), "GET / HTTP/1.1\r\nHost: t\r\n");
  CHECK_MESSAGE(contains(slow.output, "response 1: 408 "), slow.output);
  proxy.stop();
  const std::string log = read_file(log_file);
  INFO(log);
  CHECK(occurrences(log, "\n") == 3);
  CHECK(occurrences(log, "\"protocol\":\"HTTP/1.1\"") == 3);
  CHECK(contains(log, "\"status\":400"));
  CHECK(contains(log, "\"status\":505"));
  CHECK(contains(log, "\"status\":408"));
  CHECK_FALSE(contains(log, "\"upstream\":\"http"));
  CHECK(contains(proxy.process().transcript(), ": 408 request head not received within 1 s"));
}

TEST_CASE("a pooled upstream connection that the upstream closed is not used again") {
  test_support::TestDir dir;
  // The upstream closes connections idle for 0.3 s; the proxy would keep them for 30.
  HelloServer hello({"--idle-timeout", "0.3"});
  Proxy proxy(dir, {"--upstream", hello.url("")});
  const pid_t pid = proxy.process().pid();
  const std::size_t serving = test_support::open_fds(pid);
  CHECK(curl({proxy.url("/")}) == "hello from tlsreactor\n");
  // The event awaited: the proxy saw the upstream's FIN on its pooled connection and closed it,
  // so its descriptors are again those of a proxy with no connection (the client's is gone
  // too). The deadline is only a hang guard.
  std::size_t fds = test_support::open_fds(pid);
  for (int i = 0; i < 400 && fds != serving; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fds = test_support::open_fds(pid);
  }
  REQUIRE(fds == serving);
  CHECK(curl({proxy.url("/")}) == "hello from tlsreactor\n");
  proxy.stop();
  const std::string log = proxy.process().transcript();
  CHECK_MESSAGE(!contains(log, "failed"), log);
  hello.stop();
}

TEST_CASE("SIGTERM closes an idle keep-alive connection at once and the proxy exits 0") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url(), "--drain-timeout", "60"}, true);
  {
    RawClient client(proxy.port());
    client.send("GET /name HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(client.read_until("\r\n\r\nupstream\n", std::chrono::seconds(20)));
    proxy.process().signal(SIGTERM);
    // Idle, it is closed at once, long before the 60 s drain deadline would abort it.
    CHECK(client.closed_within(std::chrono::seconds(20)));
    CHECK(client.received().size() == client.received().find("upstream\n") + 9);  // nothing more
  }  // closed: the proxy need not wait for our FIN
  const int code = integration::finish(proxy.process(), std::chrono::seconds(20));
  CHECK_MESSAGE(code == 0, proxy.process().transcript());
}

TEST_CASE("a client idle past the idle timeout is closed without a response") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url(), "--idle-timeout", "1"}, true);
  const auto ex = integration::http_exchange(
      proxy.port_text(), "GET /name HTTP/1.1\r\nHost: t\r\n\r\n", {"GET"}, {"--close-wait", "20"});
  REQUIRE_MESSAGE(ex.responses.size() == 1, ex.output);
  CHECK(contains(ex.responses[0], "response 1: 200 OK\n"));
  CHECK(ex.end == "closed");
  proxy.stop();
}

TEST_CASE("a 1xx interim response from the upstream is not relayed, the final one is") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url()});
  const std::string out = curl({"--include", proxy.url("/early-hints")});
  CHECK_MESSAGE(out.starts_with("HTTP/1.1 200 OK\r\n"), out);
  CHECK_FALSE(contains(out, "103"));
  CHECK(out.ends_with("\r\n\r\nfinal\n"));
  proxy.stop();
}

TEST_CASE("an upstream that breaks off a response after its head aborts the client connection") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url()});
  Process client({"curl", "--silent", "--max-time", "30", "--insecure", "--http1.1", "--output",
                  "/dev/null", "--write-out", "%{http_code} %{size_download}\n",
                  proxy.url("/truncated")});
  const auto line = client.read_line(std::chrono::seconds(40));
  const int code = integration::finish(client);
  INFO(client.transcript());
  // curl: 18 (partial file) or 56 (connection reset): never a complete-looking success.
  CHECK((code == 18 || code == 56));
  REQUIRE(line.has_value());
  CHECK(line->starts_with("200 "));
  CHECK(*line != "200 100000");
  proxy.stop();
  CHECK(contains(proxy.process().transcript(), "upstream broke off the response"));
}

TEST_CASE("a pooled connection dropped as a request arrives: retried without a body, 502 with") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url()});
  // One pooled upstream connection, armed to drop the next request it gets.
  CHECK(curl({proxy.url("/drop-next")}) == "armed\n");
  CHECK(curl({proxy.url("/name")}) == "upstream\n");  // sent again on a fresh connection
  CHECK(curl({proxy.url("/drop-next")}) == "armed\n");
  const std::string post =
      curl({"--data-binary", "body", "--write-out", "%{http_code}\n", proxy.url("/digest")});
  CHECK_MESSAGE(post.ends_with("\n502\n"), post);
  CHECK_MESSAGE(contains(post, "closed before responding"), post);
  CHECK(curl({proxy.url("/connections")}) == "3\n");
  proxy.stop();
  CHECK_FALSE(contains(proxy.process().transcript(), " is down: "));
}

TEST_CASE("an upstream whose connect hangs times out, the next one serves, alone it is a 502") {
  test_support::TestDir dir;
  test_support::StuckListener stuck;
  Upstream upstream;
  const std::string hanging = "http://127.0.0.1:" + std::to_string(stuck.port());
  Proxy proxy(dir, {"--upstream", hanging, "--upstream", upstream.url(), "--connect-timeout", "1",
                    "--upstream-down-time", "300"});
  CHECK(curl({proxy.url("/name"), proxy.url("/name"), proxy.url("/name")}) ==
        "upstream\nupstream\nupstream\n");
  proxy.stop();
  CHECK(occurrences(proxy.process().transcript(), " is down: ") == 1);

  Proxy alone(dir, {"--upstream", hanging, "--connect-timeout", "1"});
  const std::string out = curl({"--write-out", "%{http_code}\n", alone.url("/")});
  CHECK_MESSAGE(out.ends_with("\n502\n"), out);
  CHECK_MESSAGE(contains(out, "no upstream could be reached"), out);
  alone.stop();
}

TEST_CASE("the proxy's counters match the traffic it carried") {
  test_support::TestPki pki;
  Upstream upstream;
  const auto closed = integration::closed_port();
  auto options = std::make_shared<apps::proxy::ProxyOptions>();
  std::string error;
  for (const std::string& url : {upstream.url(), "http://127.0.0.1:" + std::to_string(closed)})
    options->upstreams.push_back(*apps::proxy::UpstreamUrl::parse(url, error));
  options->upstream_down_time = std::chrono::seconds(300);

  apps::proxy::Metrics metrics;  // outlives the loop, as main's does
  test_support::LoopThread server(std::chrono::seconds(60));
  std::uint16_t port = 0;
  REQUIRE(server.call([&] {
    auto factory =
        tls::server_factory(test_support::server_context(test_support::serving(pki.ecdsa)),
                            apps::proxy::reverse_proxy_factory(options, {}, metrics, nullptr));
    auto& listener =
        server.own(std::make_unique<reactor::TcpListener>(server.loop(), std::move(factory)));
    REQUIRE(!listener.listen(*reactor::Address::from_ip("127.0.0.1", 0)));
    port = listener.local_address().port();
  }));
  const std::string base = "https://127.0.0.1:" + std::to_string(port);

  // Three 200s on one connection (the second meets the closed upstream first, then the live
  // one), then a 404 on another; curl says what it sent and received.
  const std::string sizes = "%{size_request} %{size_header} %{size_download}\n";
  const std::string out =
      curl({"--write-out", sizes, "--output", "/dev/null", base + "/name", "--output", "/dev/null",
            base + "/name", "--output", "/dev/null", base + "/name"}) +
      curl({"--write-out", sizes, "--output", "/dev/null", base + "/missing"});
  std::uint64_t sent = 0, received = 0;
  std::istringstream lines(out);
  for (std::uint64_t request, header, body; lines >> request >> header >> body;) {
    sent += request;
    received += header + body;
  }
  // A client that speaks cleartext to the TLS port fails its handshake.
  const auto plain = integration::http_exchange(std::to_string(port), "GET / HTTP/1.1\r\n\r\n");
  CHECK(contains(plain.output, "response 1: none"));

  const auto load = [](const apps::proxy::Metrics::Counter& c) {
    return c.load(std::memory_order_relaxed);
  };
  CHECK(server.wait_until([&] { return load(metrics.connections_active) == 0; },
                          std::chrono::seconds(20)));
  CHECK(load(metrics.connections_total) == 3);
  CHECK(load(metrics.handshakes_ok) == 2);
  using Failure = apps::proxy::Metrics::HandshakeFailure;
  CHECK(load(metrics.handshakes_failed[static_cast<std::size_t>(Failure::protocol)]) == 1);
  CHECK(load(metrics.requests_by_class[2]) == 3);
  CHECK(load(metrics.requests_by_class[4]) == 1);
  CHECK(load(metrics.requests_by_class[5]) == 0);
  using UpstreamError = apps::proxy::Metrics::UpstreamError;
  CHECK(load(metrics.upstream_errors[static_cast<std::size_t>(UpstreamError::refused)]) == 1);
  INFO(out);
  CHECK(load(metrics.bytes_in) == sent);
  CHECK(load(metrics.bytes_out) == received);
  CHECK(server.stop_and_close() == 0);
}

TEST_CASE(
    "a websocket request answered without a 101 is a plain exchange and the connection goes on") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url()}, true);
  const auto ex = integration::http_exchange(
      proxy.port_text(),
      "GET /headers HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
      "GET /name HTTP/1.1\r\nHost: t\r\n\r\n",
      {"GET", "GET"});
  INFO(ex.output);
  REQUIRE(ex.responses.size() == 2);
  CHECK(contains(ex.responses[0], "response 1: 200 OK\n"));
  CHECK_FALSE(contains(ex.responses[0], "header connection: close\n"));
  // The upstream saw the WebSocket's two hop-by-hop fields (and answered 200, not 101).
  CHECK(contains(ex.responses[0], "\\nUpgrade: websocket\\n"));
  CHECK(contains(ex.responses[0], "\\nConnection: upgrade\\n"));
  CHECK(contains(ex.responses[1], "response 2: 200 OK\n"));
  proxy.stop();
}

TEST_CASE("two loops serve concurrent clients, each loop with its own upstream pool") {
  test_support::TestDir dir;
  Upstream upstream;
  AppServer proxy(
      TLSREACTOR_PROXY_BIN,
      {"--dev-cert-dir", dir.path("proxy"), "--access-log", "off", "--upstream", upstream.url()},
      "127.0.0.1:0", 2);
  std::vector<std::string> args{"--parallel", "--parallel-max", "8"};
  const std::string url = "https://127.0.0.1:" + proxy.port_text() + "/name";
  for (int i = 0; i < 32; ++i) args.insert(args.end(), {"--output", "-", url});
  const std::string out = curl(args);
  CHECK_MESSAGE(occurrences(out, "upstream\n") == 32, out);
  proxy.stop();
}

TEST_CASE("idle upstream connections beyond --upstream-keepalive are closed once unused") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url(), "--upstream-keepalive", "1"});
  // Three requests held in flight together: three upstream connections.
  const std::string release = dir.path("release");
  std::vector<std::string> args{"curl", "--silent",   "--show-error", "--max-time",
                                "60",   "--insecure", "--parallel",   "--parallel-immediate"};
  for (int i = 0; i < 3; ++i)
    args.insert(args.end(), {"--output", "-", proxy.url("/until?file=" + release)});
  Process client(std::move(args));
  for (int i = 0; i < 3; ++i) {
    const auto received = upstream.process().read_line(std::chrono::seconds(20));
    REQUIRE_MESSAGE(received == "received /until?file=" + release, upstream.process().transcript());
  }
  dir.write("release", "");
  CHECK(output_of(client) == "released\nreleased\nreleased\n");
  // All three came back to a pool of one. The two beyond it go once a sweep finds them unused,
  // and one stays: asked directly, the upstream counts it and the asking connection.
  int asked = 0;
  const auto open_now = [&] {
    ++asked;
    return curl({upstream.url() + "/open"});
  };
  std::string open = open_now();
  for (int i = 0; i < 100 && open != "2\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    open = open_now();
  }
  CHECK(open == "2\n");
  // The one kept serves the next request: the upstream accepted no other connection.
  CHECK(curl({proxy.url("/name")}) == "upstream\n");
  CHECK(curl({upstream.url() + "/connections"}) == std::to_string(3 + asked + 1) + "\n");
  proxy.stop();
}

TEST_CASE("a chunked response's trailer fields reach a client that gets the body chunked") {
  test_support::TestDir dir;
  Upstream upstream;
  Proxy proxy(dir, {"--upstream", upstream.url()}, true);
  {
    RawClient client(proxy.port());
    client.send("GET /chunked?n=2&size=5 HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(client.read_until("\r\n0\r\nX-Trailer: done\r\n\r\n", std::chrono::seconds(20)));
    using namespace std::string_literals;
    const std::string& got = client.received();
    INFO(got);
    CHECK(contains(got, "Transfer-Encoding: chunked\r\n"));
    CHECK(contains(got, "\r\n5\r\n\x00\x01\x02\x03\x04\r\n5\r\n\x05\x06\x07\x08\x09\r\n"s));
  }  // closed: the proxy need not wait for our FIN
  proxy.stop();
}
