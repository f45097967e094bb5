// The proxy's operations on the real tlsreactor-proxy binary, the way nginx/HAProxy users run
// them: --check on a TOML file (nginx -t), the admin listener scraped by the Prometheus
// client's parser while curl sends traffic, /readyz through a SIGTERM drain, the PROXY protocol
// from a trusted and an untrusted loopback source, and SIGHUP swapping certificates and
// upstreams for new connections only. Upstream: peers/upstream_peer.py (python3 http.server).
#include <doctest/doctest.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/Peers.hpp"
#include "tests/integration/ProxyPeers.hpp"
#include "tests/integration/Reload.hpp"
#include "tests/support/TestDir.hpp"
#include "tests/support/TestPki.hpp"

using namespace std::chrono_literals;
using integration::admin_port;
using integration::check_run;
using integration::contains;
using integration::curl;
using integration::new_client;
using integration::occurrences;
using integration::output_of;
using integration::Process;
using integration::ProxyServer;
using integration::python_peer;
using integration::Upstream;

namespace {

// /metrics parsed by the Prometheus client library: "NAME{k=v,...} VALUE" lines.
std::string scrape(const std::string& port) {
  auto peer = python_peer("admin_peer.py", {"metrics", "--port", port});
  return output_of(peer);
}

// Closes reach the proxy a little after curl exits: scrape until nothing is open any more
// (bounded in tries, not asserted on time).
std::string scrape_when_idle(const std::string& port) {
  const std::string idle = "tlsreactor_proxy_connections_active 0\n";
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (contains(curl({"http://127.0.0.1:" + port + "/metrics"}), idle)) break;
    std::this_thread::sleep_for(50ms);
  }
  return scrape(port);
}

// The base of the --check configurations: a certificate that loads.
std::string with_certificate(const test_support::TestPki& pki, const std::string& more) {
  return "cert = \"" + pki.ecdsa.leaf.cert_file + "\"\nkey = \"" + pki.ecdsa.leaf.key_file +
         "\"\n" + more;
}

}  // namespace

TEST_CASE("proxy --check accepts a TOML file with upstreams, admin, access log and timeouts") {
  test_support::TestPki pki;
  test_support::TestDir dir;
  const std::string settings =
      "listen = \"127.0.0.1:8443\"\n"
      "upstream = [\"http://127.0.0.1:8081\", \"https://localhost:8444\"]\n"
      "upstream-keepalive = 8\n"
      "admin = \"127.0.0.1:9901\"\n"
      "access-log-format = \"json\"\n"
      "connect-timeout = 2\n"
      "response-timeout = 30\n"
      "header-timeout = 5\n"
      "idle-timeout = 0.5\n"
      "tunnel-idle-timeout = 600\n"
      "proxy-protocol-from = \"127.0.0.1/32\"\n"
      "allow-connect = [\"127.0.0.1:9\"]\n";
  const std::string files = "upstream-ca = \"" + pki.ecdsa.ca_file + "\"\naccess-log = \"" +
                            dir.path("access.log") + "\"\n";
  const std::string config = dir.write("proxy.toml", with_certificate(pki, settings + files));
  const auto [code, out] = check_run(TLSREACTOR_PROXY_BIN, {"--config", config});
  CHECK_MESSAGE(code == 0, out);
  CHECK_MESSAGE(contains(out, "stdout:\ntlsreactor-proxy: configuration OK\n"), out);
}

TEST_CASE("proxy --check refuses bad configurations with the first error and its file:line") {
  test_support::TestPki pki;
  test_support::TestDir dir;
  const std::string no_ca = dir.path("no-ca.pem");
  // The bad setting comes after the certificate's two lines.
  const struct {
    const char* what;
    std::string lines;
    std::string error;  // after "FILE:"
  } cases[] = {
      {"a bad upstream URL", "upstream = [\"http://127.0.0.1:8081\", \"ftp://127.0.0.1:21\"]",
       "3:12: --upstream ftp://127.0.0.1:21: the scheme must be http or https"},
      {"an unknown key", "upstreams = \"http://127.0.0.1:8081\"", "3:1: unknown key 'upstreams'"},
      {"an upstream CA file that does not exist",
       "upstream = \"https://localhost:8444\"\nupstream-ca = \"" + no_ca + "\"",
       "4:15: --upstream-ca: load CA file " + no_ca + ": No such file or directory"},
      {"a non-loopback admin address", "admin = \"0.0.0.0:9901\"",
       "3:9: --admin 0.0.0.0:9901: not a loopback address"},
      {"a bad PROXY protocol source", "proxy-protocol-from = \"127.0.0.1/33\"",
       "3:23: --proxy-protocol-from: '127.0.0.1/33': the prefix length must be 0 to 32"},
      {"a bad access log format", "access-log-format = \"xml\"",
       "3:21: --access-log-format: expected text or json, got 'xml'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const std::string config = dir.write("bad.toml", with_certificate(pki, c.lines + "\n"));
    const auto [code, out] = check_run(TLSREACTOR_PROXY_BIN, {"--config", config});
    CHECK(code == 1);
    CHECK_MESSAGE(contains(out, "stderr:\ntlsreactor-proxy: " + config + ":" + c.error), out);
    CHECK_FALSE(contains(out, "configuration OK"));
  }

  // A missing certificate is named with the line that names it.
  const std::string missing = dir.path("missing.pem");
  const std::string config =
      dir.write("bad.toml", "upstream = \"http://127.0.0.1:8081\"\ncert = \"" + missing +
                                "\"\nkey = \"" + pki.ecdsa.leaf.key_file + "\"\n");
  const auto [code, out] = check_run(TLSREACTOR_PROXY_BIN, {"--config", config});
  CHECK(code == 1);
  CHECK_MESSAGE(contains(out, config + ":2:8: load certificate " + missing), out);
  CHECK_FALSE(contains(out, "configuration OK"));
}

TEST_CASE("proxy admin /metrics counts the traffic curl sent through the proxy") {
  test_support::TestDir dir;
  Upstream upstream;
  // The dead upstream is first: the first request meets it, marks it down and goes on to the
  // live one. A request the upstream holds past --response-timeout gets 504.
  const std::string dead = "http://127.0.0.1:" + std::to_string(integration::closed_port());
  ProxyServer proxy(dir, {"--upstream", dead, "--upstream", upstream.url(), "--upstream-down-time",
                          "300", "--response-timeout", "1", "--admin", "127.0.0.1:0"});
  const std::string admin = admin_port(proxy);
  CHECK(curl({"--write-out", " %{http_code}\n", "http://127.0.0.1:" + admin + "/healthz"}) ==
        "ok\n 200\n");

  // Three 200s on one connection, a 404 on a second, a 504 on a third; curl says what it sent
  // and received of each.
  const std::string sizes = "%{http_code} %{size_request} %{size_header} %{size_download}\n";
  const std::string release = dir.path("release");  // created once the 504 is in
  // HTTP/1.1: curl's sizes are then the bytes on the wire inside TLS.
  const std::string out =
      curl({"--http1.1", "--write-out", sizes, "--output", "/dev/null", proxy.url("/name"),
            "--output", "/dev/null", proxy.url("/name"), "--output", "/dev/null",
            proxy.url("/name")}) +
      curl({"--http1.1", "--write-out", sizes, "--output", "/dev/null", proxy.url("/missing")}) +
      curl({"--http1.1", "--write-out", sizes, "--output", "/dev/null",
            proxy.url("/until?file=" + release)});
  // The upstream may answer now (to a connection the proxy closed): it closes its side too, so
  // the proxy's exit does not wait out the close's linger.
  dir.write("release", "");
  INFO(out);
  std::uint64_t sent = 0, received = 0;
  std::vector<int> statuses;
  std::istringstream lines(out);
  for (std::uint64_t status, request, header, body; lines >> status >> request >> header >> body;) {
    statuses.push_back(static_cast<int>(status));
    sent += request;
    received += header + body;
  }
  CHECK(statuses == std::vector<int>{200, 200, 200, 404, 504});
  // Cleartext to the TLS port: a failed handshake.
  const auto plain = integration::http_exchange(proxy.port_text(), "GET / HTTP/1.1\r\n\r\n");
  CHECK_MESSAGE(contains(plain.output, "response 1: none"), plain.output);

  const std::string samples = scrape_when_idle(admin);
  const std::pair<const char*, std::uint64_t> expected[] = {
      {"connections_active{}", 0},
      {"connections_total{}", 4},
      {"handshakes_total{result=ok}", 3},
      {"handshakes_failed_total{reason=protocol}", 1},
      {"handshakes_failed_total{reason=timeout}", 0},
      {"requests_total{class=none}", 0},
      {"requests_total{class=2xx}", 3},
      {"requests_total{class=4xx}", 1},
      {"requests_total{class=5xx}", 1},
      {"upstream_errors_total{kind=refused}", 1},
      {"upstream_errors_total{kind=response_timeout}", 1},
      {"upstream_errors_total{kind=closed}", 0},
      {"bytes_in_total{}", sent},
      {"bytes_out_total{}", received},
  };
  for (const auto& [sample, value] : expected) {
    const std::string line =
        "tlsreactor_proxy_" + std::string(sample) + " " + std::to_string(value) + "\n";
    CHECK_MESSAGE(contains(samples, line), line << "not in\n" << samples);
  }
  CHECK_MESSAGE(contains(samples, "tlsreactor_proxy_certificate_expiry_seconds{file=" +
                                      dir.path("proxy/cert.pem") + ",subject="),
                samples);
  proxy.stop();
}

TEST_CASE("proxy /metrics histograms count every handshake, request and upstream exchange") {
  test_support::TestDir dir;
  Upstream upstream;
  ProxyServer proxy(dir, {"--upstream", upstream.url(), "--admin", "127.0.0.1:0"});
  const std::string admin = admin_port(proxy);
  // Three connections (three handshakes), two requests on each, every one answered upstream.
  for (int connection = 0; connection < 3; ++connection)
    CHECK(curl({"--http1.1", "--write-out", "%{http_code}\n", "--output", "/dev/null",
                proxy.url("/name"), "--output", "/dev/null", proxy.url("/name")}) == "200\n200\n");
  scrape_when_idle(admin);
  // The parser's figures, checked by the peer: cumulative buckets ending at +Inf = _count, and
  // a _sum the buckets allow.
  auto parsed = python_peer("admin_peer.py", {"histograms", "--port", admin});
  CHECK(output_of(parsed) ==
        "tlsreactor_proxy_handshake_seconds count=3\n"
        "tlsreactor_proxy_request_seconds count=6\n"
        "tlsreactor_proxy_upstream_seconds count=6\n");
  proxy.stop();
}

TEST_CASE("SIGUSR1 reopens the access log: after a rename new lines go to a new file") {
  test_support::TestDir dir;
  Upstream upstream;
  const std::string log = dir.path("access.log");
  ProxyServer proxy(dir, {"--upstream", upstream.url(), "--access-log", log});
  CHECK(curl({"--output", "/dev/null", "--write-out", "%{http_code}\n",
              proxy.url("/name?before")}) == "200\n");
  // logrotate's part: move the file away, then tell the proxy.
  std::filesystem::rename(log, log + ".1");
  proxy.process().signal(SIGUSR1);
  // The reopen creates the file; with one loop it is in use before any later request is read.
  for (int attempt = 0; attempt < 200 && !std::filesystem::exists(log); ++attempt)
    std::this_thread::sleep_for(50ms);
  REQUIRE_MESSAGE(std::filesystem::exists(log), proxy.process().transcript());
  CHECK(curl({"--output", "/dev/null", "--write-out", "%{http_code}\n",
              proxy.url("/name?after")}) == "200\n");
  proxy.stop();
  const std::string rotated = test_support::TestDir::read(log + ".1");
  const std::string fresh = test_support::TestDir::read(log);
  CHECK_MESSAGE(occurrences(rotated, "?before") == 1, rotated);
  CHECK_MESSAGE(occurrences(rotated, "?after") == 0, rotated);
  CHECK_MESSAGE(occurrences(fresh, "?after") == 1, fresh);
  CHECK_MESSAGE(occurrences(fresh, "?before") == 0, fresh);
}

TEST_CASE("on SIGTERM the proxy's /readyz turns 503 while the request in flight completes") {
  test_support::TestDir dir;
  Upstream upstream;
  ProxyServer proxy(dir, {"--upstream", upstream.url(), "--admin", "127.0.0.1:0"});
  const std::string admin = admin_port(proxy);
  // One keep-alive admin connection, open before the drain, asking /readyz until it is 503.
  auto watcher =
      python_peer("admin_peer.py", {"until-draining", "--port", admin, "--timeout", "60"});
  REQUIRE(watcher.read_line(20s) == "first: 200 ready\\n");

  // A request the upstream holds until the test releases it.
  const std::string release = dir.path("release");
  Process client({"curl", "--silent", "--show-error", "--max-time", "60", "--insecure", "--http1.1",
                  "--include", proxy.url("/until?file=" + release)});
  const auto received = upstream.process().read_line(20s);
  REQUIRE_MESSAGE(received == "received /until?file=" + release, upstream.process().transcript());

  proxy.process().signal(SIGTERM);
  CHECK_MESSAGE(watcher.read_line(20s) == "then: 503 draining\\n", watcher.transcript());
  dir.write("release", "");
  const std::string out = output_of(client);
  CHECK_MESSAGE(contains(out, "HTTP/1.1 200 OK\r\n"), out);
  CHECK_MESSAGE(contains(out, "Connection: close\r\n"), out);
  CHECK_MESSAGE(out.ends_with("\r\n\r\nreleased\n"), out);
  CHECK_MESSAGE(integration::finish(proxy.process(), 20s) == 0, proxy.process().transcript());
  CHECK(output_of(watcher) == "closed\n");
}

TEST_CASE("PROXY v2 from a trusted source sets X-Forwarded-For and the access log client") {
  test_support::TestDir dir;
  Upstream upstream;
  const std::string log_file = dir.path("access.log");
  ProxyServer proxy(dir, {"--upstream", upstream.url(), "--proxy-protocol-from", "127.0.0.1/32",
                          "--access-log", log_file, "--access-log-format", "json"});
  const auto client = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--port", proxy.port_text(), "--ca", dir.path("proxy/ca.pem")});
    auto peer = python_peer("proxy_protocol_peer.py", std::move(args));
    return output_of(peer);
  };

  const std::string trusted =
      client({"--header", "v2", "--claim", "203.0.113.7:51234", "--request", "/headers"});
  CHECK_MESSAGE(contains(trusted, "status: 200\n"), trusted);
  CHECK_MESSAGE(contains(trusted, "\nX-Forwarded-For: 203.0.113.7\n"), trusted);

  // 127.0.0.2 is loopback but not trusted: its header is TLS garbage, so it cannot forge.
  const std::string forged = client({"--source-ip", "127.0.0.2", "--header", "v2", "--claim",
                                     "203.0.113.7:51234", "--expect", "refused"});
  CHECK_MESSAGE(forged.starts_with("refused: "), forged);
  // Without a header it is served, as itself.
  const std::string itself =
      client({"--source-ip", "127.0.0.2", "--header", "none", "--request", "/headers"});
  CHECK_MESSAGE(contains(itself, "status: 200\n"), itself);
  CHECK_MESSAGE(contains(itself, "\nX-Forwarded-For: 127.0.0.2\n"), itself);
  proxy.stop();

  const std::string log = test_support::TestDir::read(log_file);
  INFO(log);
  REQUIRE(occurrences(log, "\n") == 2);  // the refused client made no request
  const std::string first = log.substr(0, log.find('\n'));
  CHECK(contains(first, ",\"client\":\"203.0.113.7:51234\","));
  CHECK(contains(first, "\"target\":\"/headers\",\"status\":200"));
  std::smatch m;
  REQUIRE(std::regex_search(first, m, std::regex(R"("handshake_ms":([0-9.]+),)")));
  CHECK(std::strtod(m[1].str().c_str(), nullptr) > 0);
  CHECK(contains(log.substr(first.size() + 1), ",\"client\":\"127.0.0.2:"));
}

TEST_CASE("SIGHUP gives the proxy's new clients the new certificate, an old connection works on") {
  const integration::Reloadable setup("");  // the proxy serves TLS without being asked
  Upstream upstream;
  setup.write_config("upstream = \"" + upstream.url() + "\"\n");
  const auto proxy = setup.start(TLSREACTOR_PROXY_BIN, {"--access-log", "off"});
  CHECK(contains(new_client(*proxy, setup.ca, {"--path", "/name"}),
                 "subject: localhost\nstatus: 200\nbody: upstream\n"));

  auto old = setup.held_client(*proxy, "/name");
  REQUIRE_MESSAGE(old.read_line(20s) == "first: localhost 200 upstream", old.transcript());

  setup.install(setup.pki.other);
  setup.reload(*proxy);
  CHECK(contains(new_client(*proxy, setup.ca, {"--path", "/name"}),
                 "subject: other.test\nstatus: 200\nbody: upstream\n"));

  setup.release_held();
  CHECK_MESSAGE(old.read_line(20s) == "second: localhost 200 upstream", old.transcript());
  integration::check_peer_succeeds(old);
  proxy->stop();
}

TEST_CASE("a broken certificate on the proxy's SIGHUP keeps the old one and the log says why") {
  const integration::Reloadable setup("");
  Upstream upstream;
  setup.write_config("upstream = \"" + upstream.url() + "\"\n");
  const auto proxy = setup.start(TLSREACTOR_PROXY_BIN, {"--access-log", "off"});

  const std::string log = setup.reload_broken_certificate(*proxy);
  CHECK_MESSAGE(contains(log, setup.broken_certificate_error()), log);
  CHECK(contains(new_client(*proxy, setup.ca, {"--path", "/name"}),
                 "subject: localhost\nstatus: 200\nbody: upstream\n"));
  proxy->stop();
}

TEST_CASE(
    "an upstream list changed in the proxy's config file serves new requests on SIGHUP, on "
    "open connections too") {
  const integration::Reloadable setup("");
  Upstream a("a");
  Upstream b("b");
  setup.write_config("upstream = \"" + a.url() + "\"\n");
  const auto proxy = setup.start(TLSREACTOR_PROXY_BIN, {"--access-log", "off"});
  CHECK(contains(new_client(*proxy, setup.ca, {"--path", "/name"}), "status: 200\nbody: a\n"));

  auto old = setup.held_client(*proxy, "/name");
  REQUIRE_MESSAGE(old.read_line(20s) == "first: localhost 200 a", old.transcript());

  setup.write_config("upstream = [\"" + b.url() + "\"]\n");
  setup.reload(*proxy);
  // Every new connection now reaches b.
  for (int i = 0; i < 3; ++i)
    CHECK(contains(new_client(*proxy, setup.ca, {"--path", "/name"}), "status: 200\nbody: b\n"));
  // The connection opened before the reload sends its next request to the new upstream.
  setup.release_held();
  CHECK_MESSAGE(old.read_line(20s) == "second: localhost 200 b", old.transcript());
  integration::check_peer_succeeds(old);
  proxy->stop();
}
