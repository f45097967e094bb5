// The proxy's operations pieces, run in-process on a reactor::Server exactly as the proxy wires
// them: the PROXY protocol decorator in front of tls::server_factory on the main listener, the
// admin endpoint on an extra listener. Peers nobody here wrote: Python's socket + ssl behind a
// PROXY v1/v2 header, http.client and the Prometheus client's text parser, curl, openssl x509.
#include <doctest/doctest.h>

#include <ctime>
#include <thread>

#include "apps/proxy/Admin.hpp"
#include "apps/proxy/ProxyProtocol.hpp"
#include "reactor/Server.hpp"
#include "tests/integration/Peers.hpp"
#include "tests/support/TestPki.hpp"
#include "tls/TlsTransport.hpp"

using namespace std::chrono_literals;
using integration::output_of;
using integration::python_peer;
using test_support::Process;

namespace {

using apps::proxy::Metrics;

// Answers each connection with the client address it sees (one line), counts what the proxy's
// request path would count, then echoes. It ignores the drain's notice: a test ends it.
class PeerLine final : public reactor::Handler {
 public:
  explicit PeerLine(Metrics& metrics) : metrics_(metrics) {}
  void on_open(reactor::Connection& conn) override {
    opened_ = true;
    Metrics::add(metrics_.connections_total);
    Metrics::add(metrics_.connections_active);
    Metrics::add(metrics_.handshakes_ok);
    const std::string line = conn.peer_address().to_string() + "\n";
    Metrics::add(metrics_.bytes_out, line.size());
    conn.write(line);
  }
  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override {
    Metrics::add(metrics_.bytes_in, data.size());
    conn.write(data);
  }
  void on_close(reactor::Connection&, const reactor::Error&) override {
    if (opened_) metrics_.connections_active.fetch_sub(1);
  }

 private:
  Metrics& metrics_;
  bool opened_ = false;
};

// The server under test on its own thread: main listener (PROXY from `trusted`, then TLS),
// admin listener, no signal handling (the test calls stop()).
class OpsServer {
 public:
  // `tls` false: the PROXY decorator sits right in front of the PeerLine handler.
  explicit OpsServer(const char* trusted, bool tls = true,
                     std::chrono::milliseconds header_timeout = 5s) {
    std::string error;
    auto ranges = apps::proxy::parse_cidr_list(trusted, error);
    REQUIRE_MESSAGE(ranges, error);
    auto sources = std::make_shared<apps::proxy::AdminSources>();
    sources->metrics = &metrics;
    sources->draining = [this] { return server_->draining(); };
    // Read once, as the proxy does at start-up and on reload, never per scrape.
    const auto expiry = apps::proxy::read_certificate_expiry(pki.ecdsa.leaf.cert_file, error);
    REQUIRE_MESSAGE(expiry, error);
    sources->certificates = [certs = std::vector{*expiry}] { return certs; };
    sources->now_unix = [] { return now_for_expiry; };

    reactor::ServerOptions options;
    options.listen = *reactor::Address::from_ip("127.0.0.1", 0);
    options.handle_signals = false;
    options.drain_timeout = 20s;
    options.extra_listeners.push_back(
        apps::proxy::admin_listener(*reactor::Address::from_ip("127.0.0.1", 0), sources));
    reactor::HandlerFactory inner = [this] { return std::make_unique<PeerLine>(metrics); };
    if (tls)
      inner = tls::server_factory(test_support::server_context(test_support::serving(pki.ecdsa)),
                                  std::move(inner));
    apps::proxy::ProxyProtocolOptions proxy_protocol;
    proxy_protocol.trusted = std::move(*ranges);
    proxy_protocol.header_timeout = header_timeout;
    server_ = std::make_unique<reactor::Server>(
        options, apps::proxy::proxy_protocol_factory(std::move(proxy_protocol), std::move(inner)));
    REQUIRE_FALSE(server_->listen());
    runner_ = std::thread([this] { exit_code_ = server_->run(); });
  }
  ~OpsServer() {
    server_->stop();
    if (runner_.joinable()) runner_.join();
  }

  std::string port() const { return std::to_string(server_->local_address().port()); }
  std::string admin_port() const { return std::to_string(server_->extra_address(0).port()); }
  std::string admin_url(const std::string& path) const {
    return "http://127.0.0.1:" + admin_port() + path;
  }
  void stop() { server_->stop(); }
  // Joins the server thread; the exit code of run().
  int join() {
    runner_.join();
    return exit_code_;
  }

  // A fixed "now" for the expiry gauge, so its figure can be checked exactly.
  static constexpr std::int64_t now_for_expiry = 1'700'000'000;
  test_support::TestPki pki;
  Metrics metrics;

 private:
  std::unique_ptr<reactor::Server> server_;
  std::thread runner_;
  int exit_code_ = -1;
};

Process proxy_client(const OpsServer& s, std::vector<std::string> args) {
  args.insert(args.begin(), {"--port", s.port(), "--ca", s.pki.ecdsa.ca_file});
  return python_peer("proxy_protocol_peer.py", std::move(args));
}

// curl's exit code and what it printed (-w appends the status code after the body).
struct Curl {
  int code = -1;
  std::string out;
};
Curl curl(std::vector<std::string> args) {
  args.insert(args.begin(), {"curl", "-sS", "--max-time", "10"});
  Process p(std::move(args));
  Curl result;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (auto line = p.read_line(integration::until(deadline))) result.out += *line + "\n";
  result.code = integration::finish(p, 10s);
  return result;
}

}  // namespace

TEST_CASE("PROXY v2 and v1 from a trusted source replace the client address seen through TLS") {
  OpsServer server("127.0.0.1/32");
  const struct {
    const char* header;
    const char* claim;
  } cases[] = {
      {"v2", "203.0.113.7:51234"},
      {"v1", "198.51.100.9:40000"},
      {"v2", "[2001:db8::7]:5000"},
      {"v1", "[2001:db8::8]:443"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.claim);
    auto peer = proxy_client(server, {"--header", c.header, "--claim", c.claim});
    CHECK(output_of(peer) == std::string("peer: ") + c.claim + "\n");
  }
  CHECK(server.metrics.connections_total.load() == 4);
}

TEST_CASE("a PROXY header from an untrusted source is refused, its own address is kept") {
  OpsServer server("127.0.0.1/32");
  // 127.0.0.2 is loopback too, but not in the trusted range: its header is TLS garbage.
  auto forged =
      proxy_client(server, {"--source-ip", "127.0.0.2", "--header", "v2", "--expect", "refused"});
  CHECK(output_of(forged).starts_with("refused: "));
  auto forged_v1 =
      proxy_client(server, {"--source-ip", "127.0.0.2", "--header", "v1", "--expect", "refused"});
  CHECK(output_of(forged_v1).starts_with("refused: "));
  // Without a header the untrusted client is served, and seen as itself.
  auto plain = proxy_client(server, {"--source-ip", "127.0.0.2", "--header", "none"});
  CHECK(output_of(plain).starts_with("peer: 127.0.0.2:"));
  CHECK(server.metrics.connections_total.load() == 1);
}

TEST_CASE("a trusted source that starts TLS without a PROXY header is closed") {
  OpsServer server("127.0.0.0/8");
  auto peer = proxy_client(server, {"--header", "none", "--expect", "refused"});
  CHECK(output_of(peer).starts_with("refused: "));
  CHECK(server.metrics.connections_total.load() == 0);
}

TEST_CASE(
    "a PROXY header in one segment with the first bytes, or dribbled byte by byte, is stripped exactly") {
  OpsServer server("127.0.0.1/32", false);
  for (const char* header : {"v1", "v2"}) {
    for (const bool dribble : {false, true}) {
      CAPTURE(header);
      CAPTURE(dribble);
      std::vector<std::string> args{"--plain", "--header", header, "--claim", "192.0.2.44:4444"};
      if (dribble) args.emplace_back("--dribble");
      auto peer = proxy_client(server, args);
      CHECK(output_of(peer) == "peer: 192.0.2.44:4444\necho: hello\n");
    }
  }
}

TEST_CASE("a trusted source that sends nothing is closed at the PROXY header deadline") {
  OpsServer server("127.0.0.1/32", true, 300ms);
  auto peer = proxy_client(server, {"--expect", "closed"});
  CHECK(output_of(peer) == "closed\n");
  CHECK(server.metrics.connections_total.load() == 0);
}

TEST_CASE("admin /healthz /readyz answer with keep-alive, other paths 404, other methods 405") {
  OpsServer server("127.0.0.1/32");
  auto peer = python_peer("admin_peer.py", {"get", "--port", server.admin_port(), "/healthz",
                                            "/readyz", "/nowhere", "/healthz?verbose=1"});
  CHECK(output_of(peer) ==
        "/healthz 200 ok\\n\n"
        "/readyz 200 ready\\n\n"
        "/nowhere 404 no such admin path: try /healthz, /readyz or /metrics\\n\n"
        "/healthz?verbose=1 200 ok\\n\n"
        "content-type: text/plain; charset=utf-8\n"
        "connections: 1\n");  // all four on one connection, kept alive
  const Curl post =
      curl({"-X", "POST", "-d", "x", "-D", "-", "-o", "/dev/null", server.admin_url("/healthz")});
  CHECK(post.code == 0);
  CHECK(post.out.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
  CHECK(post.out.find("Allow: GET\r\n") != std::string::npos);
  const Curl get = curl({"-w", "%{http_code} %{content_type}\n", server.admin_url("/healthz")});
  CHECK(get.out == "ok\n200 text/plain; charset=utf-8\n");
}

TEST_CASE("admin /metrics parses with the Prometheus client and its figures match the traffic") {
  OpsServer server("127.0.0.1/32");
  for (const char* claim : {"203.0.113.1:1000", "203.0.113.2:2000"}) {
    auto peer = proxy_client(server, {"--claim", claim});
    CHECK(output_of(peer) == std::string("peer: ") + claim + "\n");
  }
  // What openssl itself says of the served certificate.
  Process x509({"openssl", "x509", "-noout", "-enddate", "-subject", "-nameopt", "RFC2253",
                "-dateopt", "iso_8601", "-in", server.pki.ecdsa.leaf.cert_file});
  const std::string x509_out = output_of(x509);
  std::tm tm{};
  const auto not_after = x509_out.find("notAfter=");
  REQUIRE(not_after != std::string::npos);
  REQUIRE(strptime(x509_out.c_str() + not_after + 9, "%Y-%m-%d %H:%M:%SZ", &tm) != nullptr);
  const auto subject = x509_out.find("subject=");
  REQUIRE(subject != std::string::npos);
  const std::string subject_text =
      x509_out.substr(subject + 8, x509_out.find('\n', subject) - subject - 8);
  const std::int64_t expiry = timegm(&tm) - OpsServer::now_for_expiry;

  const Curl type =
      curl({"-o", "/dev/null", "-w", "%{content_type}\n", server.admin_url("/metrics")});
  CHECK(type.out == "text/plain; version=0.0.4; charset=utf-8\n");

  auto parsed = python_peer("admin_peer.py", {"metrics", "--port", server.admin_port()});
  const std::string samples = output_of(parsed);
  const std::string bytes_out = std::to_string(server.metrics.bytes_out.load());
  for (const std::string& expected : {
           std::string("tlsreactor_proxy_connections_total{} 2\n"),
           std::string("tlsreactor_proxy_connections_active{} 0\n"),
           std::string("tlsreactor_proxy_handshakes_total{result=ok} 2\n"),
           std::string("tlsreactor_proxy_handshakes_failed_total{reason=timeout} 0\n"),
           std::string("tlsreactor_proxy_requests_total{class=2xx} 0\n"),
           std::string("tlsreactor_proxy_upstream_errors_total{kind=refused} 0\n"),
           "tlsreactor_proxy_bytes_out_total{} " + bytes_out + "\n",
           "tlsreactor_proxy_certificate_expiry_seconds{file=" + server.pki.ecdsa.leaf.cert_file +
               ",subject=" + subject_text + "} " + std::to_string(expiry) + "\n",
           std::string("types: 20\n"),
       }) {
    CHECK_MESSAGE(samples.find(expected) != std::string::npos, expected << "not in\n" << samples);
  }
  // Both lines ("203.0.113.x:NNNN\n") were counted as sent.
  CHECK(bytes_out == "34");
}

TEST_CASE(
    "during a drain /readyz turns 503 on a kept-alive connection while the main listener refuses") {
  OpsServer server("127.0.0.1/32");
  // A client in the middle of its connection: the drain must wait for it.
  auto held = proxy_client(server, {"--hold", "--timeout", "60"});
  REQUIRE(held.read_line(20s) == "peer: 203.0.113.7:51234");
  // An admin client on one keep-alive connection, asking /readyz until it turns 503.
  auto watcher = python_peer("admin_peer.py",
                             {"until-draining", "--port", server.admin_port(), "--timeout", "60"});
  REQUIRE(watcher.read_line(20s) == "first: 200 ready\\n");

  server.stop();
  CHECK(watcher.read_line(20s) == "then: 503 draining\\n");
  // New admin connections are still served while the drain waits for the held client.
  CHECK(curl({"-w", " %{http_code}\n", server.admin_url("/healthz")}).out == "ok\n 200\n");
  CHECK(curl({"-w", " %{http_code}\n", server.admin_url("/readyz")}).out == "draining\n 503\n");
  CHECK(curl({"-o", "/dev/null", "-w", "%{http_code}\n", server.admin_url("/metrics")}).out ==
        "200\n");
  // The main listener closes on the loop soon after stop(): curl sees the refusal (exit 7).
  int refused_after = -1;
  for (int attempt = 0; attempt < 100 && refused_after < 0; ++attempt) {
    const Curl main = curl({"-k", "-o", "/dev/null", "https://127.0.0.1:" + server.port() + "/"});
    if (main.code == 7)
      refused_after = attempt;
    else
      std::this_thread::sleep_for(50ms);
  }
  CHECK_MESSAGE(refused_after >= 0, "the main listener still accepted during the drain");

  // The held client leaves: the drain ends although the admin connection is still open.
  held.signal(SIGTERM);
  CHECK(integration::finish(held, 10s) == 128 + SIGTERM);
  CHECK(server.join() == 0);
  CHECK(output_of(watcher) == "closed\n");
}
