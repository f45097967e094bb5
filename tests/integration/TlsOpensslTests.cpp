// TLS against the openssl command-line tools: s_client (driven through its stdin) against
// tlsreactor-echo --tls, and our example-https-get client against s_server -www. Covers both
// protocol versions, renegotiation and KeyUpdate mid-session, session resumption (also across
// two servers sharing a ticket key file), mutual TLS, and our client choosing its certificate
// asynchronously when s_server -Verify asks for one. Extra identities (s_server's
// certificate, client certificates, a second CA) are minted with the openssl CLI per test.
#include <doctest/doctest.h>

#include <regex>
#include <string>
#include <vector>

#include "reactor/Loop.hpp"
#include "reactor/Timer.hpp"
#include "tests/integration/Peers.hpp"
#include "tests/support/Recorder.hpp"
#include "tests/support/TestDir.hpp"
#include "tests/support/TestPki.hpp"
#include "tests/support/Watchdog.hpp"
#include "tls/TlsTransport.hpp"

using namespace std::chrono_literals;
using integration::EchoServer;
using integration::interact;
using integration::Interaction;
using integration::Process;
using integration::TlsEchoServer;
using test_support::TestDir;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::size_t count(const std::string& text, const std::regex& pattern) {
  return static_cast<std::size_t>(std::distance(
      std::sregex_iterator(text.begin(), text.end(), pattern), std::sregex_iterator()));
}

// ---- certificates from the openssl CLI ----------------------------------------------------

void openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  Process tool(std::move(args));
  const int code = integration::finish(tool, 20s);
  REQUIRE_MESSAGE(code == 0, tool.transcript());
}

struct Identity {
  std::string cert;
  std::string key;
};

// Runs `openssl req -x509` for a new P-256 key and a certificate valid for a day with the
// subject CN `cn`, written to `out`; `more` adds options (the issuer, -addext extensions).
void new_certificate(const Identity& out, const std::string& cn, std::vector<std::string> more) {
  std::vector<std::string> args{"req", "-x509", "-newkey", "ec", "-pkeyopt"};
  args.insert(args.end(),
              {"ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=" + cn});
  args.insert(args.end(), {"-keyout", out.key, "-out", out.cert});
  args.insert(args.end(), more.begin(), more.end());
  openssl(std::move(args));
}

// A self-signed CA.
Identity make_ca(const TestDir& dir, const std::string& name) {
  const Identity ca{dir.path(name + ".pem"), dir.path(name + ".key")};
  new_certificate(ca, name,
                  {"-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                   "keyUsage=critical,keyCertSign,cRLSign"});
  return ca;
}

// A leaf signed by `ca`. `extensions` are -addext values, say the subjectAltName and the
// extendedKeyUsage.
Identity make_leaf(const TestDir& dir, const std::string& name, const Identity& ca,
                   const std::string& cn, const std::vector<std::string>& extensions) {
  const Identity leaf{dir.path(name + ".pem"), dir.path(name + ".key")};
  std::vector<std::string> more{"-CA", ca.cert, "-CAkey", ca.key};
  more.insert(more.end(), {"-addext", "basicConstraints=critical,CA:FALSE"});
  for (const auto& e : extensions) more.insert(more.end(), {"-addext", e});
  new_certificate(leaf, cn, std::move(more));
  return leaf;
}

Identity server_leaf(const TestDir& dir, const Identity& ca, const std::string& host) {
  return make_leaf(dir, host, ca, host,
                   {"subjectAltName=DNS:" + host, "extendedKeyUsage=serverAuth"});
}

Identity client_leaf(const TestDir& dir, const std::string& name, const Identity& ca) {
  return make_leaf(dir, name, ca, name, {"extendedKeyUsage=clientAuth"});
}

// ---- s_client against tlsreactor-echo -----------------------------------------------------

// `openssl s_client` for the echo server, sending SNI "localhost" and verifying the server's
// chain against `ca_file` and its name, failing the handshake if either does not verify.
// `version` is "-tls1_2" or "-tls1_3". Without -ign_eof, so stdin commands (R, k, K) work and
// the end of stdin ends the session with a close_notify.
std::vector<std::string> s_client(const EchoServer& server, const std::string& ca_file,
                                  const std::string& version, std::vector<std::string> extra = {}) {
  const std::string address = "127.0.0.1:" + server.port_text();
  std::vector<std::string> argv{"openssl", "s_client", "-connect", address};
  argv.insert(argv.end(), {"-servername", "localhost", "-CAfile", ca_file});
  argv.insert(argv.end(), {"-verify_return_error", "-verify_hostname", "localhost", version});
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// One line there and back, then a clean end (stdin's end: close_notify, exit 0), with the
// server verified. Returns the session for further checks.
Interaction check_echoes_a_line(const EchoServer& server, const std::string& ca_file,
                                const std::string& version, std::vector<std::string> extra = {}) {
  const std::string line = "one line over " + version;
  const Interaction r = interact({"send:" + line, "line:" + line, "close", "exit:0"},
                                 s_client(server, ca_file, version, std::move(extra)));
  CHECK_MESSAGE(r.ok, r.transcript());
  // (A resumed session verifies nothing new: it reports the result stored with the session.)
  CHECK_MESSAGE(has(r.out, "Verify return code: 0 (ok)"), r.transcript());
  return r;
}

// A fresh echo server, s_client over `version` and the protocol it reports.
void check_s_client_session(const std::string& version, const std::string& protocol) {
  TestDir dir;
  TlsEchoServer server(dir.path("server"));
  const Interaction r = check_echoes_a_line(server, server.ca_file(), version);
  CHECK_MESSAGE(has(r.out, "Verified peername: localhost"), r.transcript());
  CHECK_MESSAGE(has(r.out, "New, " + protocol + ", Cipher is "), r.transcript());
  server.stop();
}

}  // namespace

TEST_CASE("s_client over TLS 1.2 verifies the development certificate and gets a line echoed") {
  check_s_client_session("-tls1_2", "TLSv1.2");
}

TEST_CASE("s_client over TLS 1.3 verifies the development certificate and gets a line echoed") {
  check_s_client_session("-tls1_3", "TLSv1.3");
}

TEST_CASE("a TLS 1.2 client renegotiation is refused by default and the next client is served") {
  TestDir dir;
  TlsEchoServer server(dir.path("server"));
  // OpenSSL 3 answers the renegotiating ClientHello with a warning no_renegotiation alert;
  // s_client gives up on it with a fatal handshake_failure and exits 1.
  const Interaction r = interact(
      {"send:before R", "line:before R", "send:R", "err:^RENEGOTIATING$", "send:after R", "exit:1"},
      s_client(server, server.ca_file(), "-tls1_2", {"-msg"}));
  CHECK_MESSAGE(r.ok, r.transcript());
  CHECK_MESSAGE(has(r.out, "<<< TLS 1.2, Alert [length 0002], warning no_renegotiation"),
                r.transcript());
  CHECK_MESSAGE(has(r.err, ":no renegotiation:"), r.transcript());
  CHECK_MESSAGE(!has(r.out, "\nafter R\n"), r.transcript());
  check_echoes_a_line(server, server.ca_file(), "-tls1_2");
  server.stop();
}

TEST_CASE("with --allow-renegotiation a TLS 1.2 renegotiation succeeds and the echo goes on") {
  TestDir dir;
  TlsEchoServer server(dir.path("server"), {"--allow-renegotiation"});
  // The second handshake shows as a second chain verification and a second server Finished.
  const std::string server_finished = R"(^<<< TLS 1\.2, Handshake \[length [0-9a-f]+\], Finished$)";
  const Interaction r = interact(
      {"send:before R", "out:" + server_finished, "line:before R", "send:R", "err:^RENEGOTIATING$",
       "out:" + server_finished, "send:after R", "line:after R", "close", "exit:0"},
      s_client(server, server.ca_file(), "-tls1_2", {"-msg"}));
  CHECK_MESSAGE(r.ok, r.transcript());
  CHECK_MESSAGE(count(r.err, std::regex("depth=0 .*CN = localhost")) == 2, r.transcript());
  CHECK_MESSAGE(!has(r.out, "no_renegotiation"), r.transcript());
  server.stop();
}

TEST_CASE("TLS 1.3 KeyUpdates mid-session keep the echo exact and a requested one is answered") {
  TestDir dir;
  TlsEchoServer server(dir.path("server"));
  // "k": a KeyUpdate that does not ask for ours; "K": one that does (update_requested), which
  // the server must answer with its own KeyUpdate (update_not_requested: 18 00 00 01 00).
  const std::string server_key_update =
      R"(^<<< TLS 1\.3, Handshake \[length 0005\], KeyUpdate\n +18 00 00 01 00$)";
  const Interaction r =
      interact({"send:line 1 before any KeyUpdate", "line:line 1 before any KeyUpdate", "send:k",
                "err:^KEYUPDATE$", "send:line 2 after k: the quick brown fox",
                "line:line 2 after k: the quick brown fox", "send:K", "err:^KEYUPDATE$",
                "out:" + server_key_update, "send:line 3 after K: 0123456789abcdef",
                "line:line 3 after K: 0123456789abcdef", "close", "exit:0"},
               s_client(server, server.ca_file(), "-tls1_3", {"-msg"}));
  CHECK_MESSAGE(r.ok, r.transcript());
  // We sent two; the server sent exactly one, the answer to "K".
  CHECK_MESSAGE(
      count(r.out, std::regex(R"(>>> TLS 1\.3, Handshake \[length 0005\], KeyUpdate)")) == 2,
      r.transcript());
  CHECK_MESSAGE(
      count(r.out, std::regex(R"(<<< TLS 1\.3, Handshake \[length 0005\], KeyUpdate)")) == 1,
      r.transcript());
  server.stop();
}

TEST_CASE(
    "with --allow-renegotiation the 4th client renegotiation within a minute ends the session") {
  TestDir dir;
  TlsEchoServer server(dir.path("server"), {"--allow-renegotiation"});
  const std::string server_finished = R"(^<<< TLS 1\.2, Handshake \[length [0-9a-f]+\], Finished$)";
  std::vector<std::string> steps{"send:before", "out:" + server_finished, "line:before"};
  for (int i = 1; i <= 3; ++i) {
    const std::string line = "after R " + std::to_string(i);
    steps.insert(steps.end(), {"send:R", "err:^RENEGOTIATING$", "out:" + server_finished,
                               "send:" + line, "line:" + line});
  }
  // The default --max-renegotiations-per-minute is 3: the server cuts the 4th off.
  steps.insert(steps.end(), {"send:R", "err:^RENEGOTIATING$", "exit:any"});
  const Interaction r = interact(steps, s_client(server, server.ca_file(), "-tls1_2", {"-msg"}));
  CHECK_MESSAGE(r.ok, r.transcript());
  // The first handshake and three renegotiations finished; the fourth did not.
  CHECK_MESSAGE(
      count(r.out, std::regex(R"(<<< TLS 1\.2, Handshake \[length [0-9a-f]+\], Finished)")) == 4,
      r.transcript());
  check_echoes_a_line(server, server.ca_file(), "-tls1_2");
  server.stop();
  CHECK_MESSAGE(
      has(server.process().transcript(),
          "too many renegotiations from the peer: more than 3 renegotiations in a minute"),
      server.process().transcript());
}

TEST_CASE("TLS 1.3 KeyUpdates requested in a loop: the 11th within a minute ends the session") {
  TestDir dir;
  TlsEchoServer server(dir.path("server"));
  const std::string server_key_update =
      R"(^<<< TLS 1\.3, Handshake \[length 0005\], KeyUpdate\n +18 00 00 01 00$)";
  std::vector<std::string> steps;
  for (int i = 1; i <= 10; ++i) {
    const std::string line = "after K " + std::to_string(i);
    steps.insert(steps.end(), {"send:K", "err:^KEYUPDATE$", "out:" + server_key_update,
                               "send:" + line, "line:" + line});
  }
  // The default --max-key-updates-per-minute is 10.
  steps.insert(steps.end(), {"send:K", "err:^KEYUPDATE$", "exit:any"});
  const Interaction r = interact(steps, s_client(server, server.ca_file(), "-tls1_3", {"-msg"}));
  CHECK_MESSAGE(r.ok, r.transcript());
  CHECK_MESSAGE(
      count(r.out, std::regex(R"(<<< TLS 1\.3, Handshake \[length 0005\], KeyUpdate)")) == 10,
      r.transcript());
  check_echoes_a_line(server, server.ca_file(), "-tls1_3");
  server.stop();
  CHECK_MESSAGE(has(server.process().transcript(),
                    "too many KeyUpdates from the peer: more than 10 KeyUpdates in a minute"),
                server.process().transcript());
}

// ---- example-https-get against openssl s_server -------------------------------------------

namespace {

// `openssl s_server -www` on an ephemeral loopback port, for one connection (-naccept 1): it
// answers any request with an HTML page describing the session ("Ciphers supported in
// s_server binary", "New, TLSv1.3, Cipher is ...").
class SServer {
 public:
  SServer(const Identity& identity, std::vector<std::string> extra = {})
      : process_(argv(identity, std::move(extra))) {
    // "ACCEPT 127.0.0.1:PORT" once it listens.
    static const std::regex accept(R"(ACCEPT 127\.0\.0\.1:(\d+))");
    while (auto line = process_.read_line(20s)) {
      std::smatch m;
      if (std::regex_match(*line, m, accept)) {
        port_ = m[1];
        return;
      }
    }
    FAIL("openssl s_server did not start\n" << process_.transcript());
  }

  std::string port() const { return port_; }
  // -naccept 1: it exits 0 by itself once its one connection is over.
  void check_exits() {
    const int code = integration::finish(process_, 10s);
    CHECK_MESSAGE(code == 0, process_.transcript());
  }

 private:
  static std::vector<std::string> argv(const Identity& identity, std::vector<std::string> extra) {
    std::vector<std::string> all{"openssl", "s_server", "-accept", "127.0.0.1:0", "-naccept", "1"};
    all.insert(all.end(), {"-cert", identity.cert, "-key", identity.key, "-www"});
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  }

  Process process_;
  std::string port_;
};

struct Fetched {
  int exit_code = -1;
  std::string body;        // stdout: the HTTP response
  std::string transcript;  // with stderr ("connected: ...", "error: ...")
};

Fetched https_get(const std::string& target, const std::string& ca_file) {
  Process client({TLSREACTOR_HTTPS_GET_BIN, target, "/", ca_file});
  Fetched result;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (auto line = client.read_line(integration::until(deadline))) result.body += *line + "\n";
  result.exit_code = integration::finish(client, integration::until(deadline));
  result.transcript = client.transcript();
  return result;
}

// A fresh CA and s_server leaf for localhost; example-https-get verifies it, prints the whole
// page (up to s_server's clean close) and exits 0.
void check_fetches_from_s_server(const std::vector<std::string>& s_server_options,
                                 const std::string& protocol) {
  TestDir dir;
  const Identity ca = make_ca(dir, "server-ca");
  SServer server(server_leaf(dir, ca, "localhost"), s_server_options);
  const Fetched r = https_get("localhost:" + server.port(), ca.cert);
  CHECK_MESSAGE(r.exit_code == 0, r.transcript);
  CHECK_MESSAGE(r.body.starts_with("HTTP/1.0 200 ok\r\n"), r.transcript);
  CHECK_MESSAGE(has(r.body, "Ciphers supported in s_server binary"), r.transcript);
  CHECK_MESSAGE(has(r.body, "New, " + protocol + ", Cipher is "), r.transcript);
  const std::string body_end = r.body.substr(0, r.body.find_last_not_of("\r\n") + 1);
  CHECK_MESSAGE(body_end.ends_with("</BODY></HTML>"), r.transcript);
  CHECK_MESSAGE(has(r.transcript, "connected: " + protocol + " "), r.transcript);
  server.check_exits();
}

}  // namespace

TEST_CASE("example-https-get fetches a page from openssl s_server over TLS 1.3 and exits 0") {
  check_fetches_from_s_server({}, "TLSv1.3");
}

TEST_CASE("example-https-get fetches a page from openssl s_server forced to TLS 1.2 and exits 0") {
  check_fetches_from_s_server({"-tls1_2"}, "TLSv1.2");
}

TEST_CASE("example-https-get refuses an s_server whose certificate names another host") {
  TestDir dir;
  const Identity ca = make_ca(dir, "server-ca");
  SServer server(server_leaf(dir, ca, "other.test"));
  const Fetched r = https_get("localhost:" + server.port(), ca.cert);
  CHECK_MESSAGE(r.exit_code == 1, r.transcript);
  CHECK_MESSAGE(has(r.transcript, "error: handshake: certificate verify failed: hostname mismatch"),
                r.transcript);
  CHECK_MESSAGE(r.body.empty(), r.transcript);  // nothing was requested, nothing printed
  server.check_exits();
}

// ---- session resumption -------------------------------------------------------------------

namespace {

// A first s_client session that saves its session to `file`, then a second that offers it to
// `second`; returns the second. For TLS 1.3 the ticket comes after the handshake: the first
// session waits for its echo before it ends, and the ticket came before the echo.
Interaction resume(const EchoServer& first, const EchoServer& second, const std::string& ca_file,
                   const std::string& version, const std::string& file) {
  const Interaction one = check_echoes_a_line(first, ca_file, version, {"-sess_out", file});
  CHECK_MESSAGE(has(one.out, "New, TLSv1."), one.transcript());
  return check_echoes_a_line(second, ca_file, version, {"-sess_in", file});
}

void check_resumes_on_the_same_server(const std::string& version, const std::string& protocol) {
  TestDir dir;
  TlsEchoServer server(dir.path("server"));
  const Interaction r = resume(server, server, server.ca_file(), version, dir.path("session"));
  CHECK_MESSAGE(has(r.out, "Reused, " + protocol + ", Cipher is "), r.transcript());
  server.stop();
}

}  // namespace

TEST_CASE("s_client resumes a TLS 1.2 session on the echo server") {
  check_resumes_on_the_same_server("-tls1_2", "TLSv1.2");
}

TEST_CASE("s_client resumes a TLS 1.3 session from a ticket on the echo server") {
  check_resumes_on_the_same_server("-tls1_3", "TLSv1.3");
}

TEST_CASE("a session resumes on a second echo server with the same --ticket-key but not a third") {
  TestDir dir;
  openssl({"rand", "-out", dir.path("ticket.key"), "80"});
  openssl({"rand", "-out", dir.path("other-ticket.key"), "80"});
  TlsEchoServer a(dir.path("a"), {"--ticket-key", dir.path("ticket.key")});
  // The same certificate everywhere, so only the ticket key tells the servers apart.
  EchoServer b({"--tls", "--cert", a.cert_file(), "--key", a.key_file(), "--ticket-key",
                dir.path("ticket.key")});
  EchoServer c({"--tls", "--cert", a.cert_file(), "--key", a.key_file(), "--ticket-key",
                dir.path("other-ticket.key")});
  for (const std::string version : {"-tls1_2", "-tls1_3"}) {
    CAPTURE(version);
    const std::string tls = version == "-tls1_2" ? "TLSv1.2" : "TLSv1.3";
    const Interaction on_b = resume(a, b, a.ca_file(), version, dir.path("session" + version));
    CHECK_MESSAGE(has(on_b.out, "Reused, " + tls + ", Cipher is "), on_b.transcript());
    const Interaction on_c = resume(a, c, a.ca_file(), version, dir.path("session-c" + version));
    CHECK_MESSAGE(has(on_c.out, "New, " + tls + ", Cipher is "), on_c.transcript());
  }
  a.stop();
  b.stop();
  c.stop();
}

// ---- mutual TLS ---------------------------------------------------------------------------

TEST_CASE("mutual TLS: s_client with a certificate from the --client-ca gets its line echoed") {
  TestDir dir;
  const Identity client_ca = make_ca(dir, "client-ca");
  const Identity alice = client_leaf(dir, "alice", client_ca);
  TlsEchoServer server(dir.path("server"), {"--client-ca", client_ca.cert});
  for (const std::string version : {"-tls1_2", "-tls1_3"}) {
    CAPTURE(version);
    check_echoes_a_line(server, server.ca_file(), version,
                        {"-cert", alice.cert, "-key", alice.key});
  }
  server.stop();
}

TEST_CASE("mutual TLS: s_client without a certificate is refused with an alert and gets no echo") {
  TestDir dir;
  const Identity client_ca = make_ca(dir, "client-ca");
  TlsEchoServer server(dir.path("server"), {"--client-ca", client_ca.cert});
  // TLS 1.2: handshake_failure ends the handshake (RFC 5246 7.4.6). TLS 1.3: the client has
  // finished its side when certificate_required (RFC 8446 4.4.2.4) arrives, so it may have
  // sent the line; it never comes back.
  for (const auto& [version, alert] :
       {std::pair<std::string, std::string>{"-tls1_2", "alert handshake failure"},
        {"-tls1_3", "alert certificate required"}}) {
    CAPTURE(version);
    const Interaction r =
        interact({"send:refused line", "exit:1"}, s_client(server, server.ca_file(), version));
    CHECK_MESSAGE(r.ok, r.transcript());
    CHECK_MESSAGE(has(r.err, alert), r.transcript());
    CHECK_MESSAGE(!has(r.out, "refused line"), r.transcript());
  }
  server.stop();
}

TEST_CASE("mutual TLS: s_client with a certificate from another CA is refused with unknown_ca") {
  TestDir dir;
  const Identity client_ca = make_ca(dir, "client-ca");
  const Identity other_ca = make_ca(dir, "other-ca");
  const Identity mallory = client_leaf(dir, "mallory", other_ca);
  TlsEchoServer server(dir.path("server"), {"--client-ca", client_ca.cert});
  for (const std::string version : {"-tls1_2", "-tls1_3"}) {
    CAPTURE(version);
    const Interaction r = interact(
        {"send:refused line", "exit:1"},
        s_client(server, server.ca_file(), version, {"-cert", mallory.cert, "-key", mallory.key}));
    CHECK_MESSAGE(r.ok, r.transcript());
    CHECK_MESSAGE(has(r.err, "alert unknown ca"), r.transcript());
    CHECK_MESSAGE(!has(r.out, "refused line"), r.transcript());
  }
  server.stop();
}

// ---- an asynchronous client-certificate choice against openssl s_server -Verify 1 -----------

namespace {

// Our client (tls::connect, in this thread's loop) fetching s_server's -www page. Its
// on_client_certificate hook is asked when s_server requests a certificate; the answer comes
// from a timer 50 ms later (the connection is parked on SSL_ERROR_WANT_X509_LOOKUP meanwhile).
struct ChoosingClient {
  std::string body;
  reactor::Error error;
  std::vector<std::string> ca_names;  // what s_server said it accepts
  int asked = 0;

  void fetch(const std::string& port, const std::string& ca_file,
             std::shared_ptr<const tls::Certificate> mine) {
    reactor::Loop loop;
    std::optional<test_support::Watchdog> dog(std::in_place, loop, 20s);
    std::optional<reactor::Timer> answer;
    tls::ClientConfig config;
    config.ca_file = ca_file;
    config.on_client_certificate = [&](const tls::CertificateRequest& request,
                                       tls::CertificateChoice choice) {
      ++asked;
      ca_names = request.ca_names;
      answer.emplace(loop);
      answer->start(50ms, 0ms, [choice, mine] {
        if (mine)
          choice.use(mine);
        else
          choice.decline();
      });
    };
    auto context = test_support::client_context(config);
    auto handler = std::make_unique<test_support::Recorder>(record_);
    handler->open = [](reactor::Connection& c) { c.write("GET / HTTP/1.0\r\n\r\n"); };
    handler->closed = [&loop](reactor::Connection&, const reactor::Error&) { loop.stop(); };
    tls::connect(loop, {"localhost", static_cast<std::uint16_t>(std::stoi(port))}, context,
                 std::move(handler));
    loop.run();
    body = record_->data;
    error = record_->error;
    answer.reset();
    dog.reset();
    CHECK(loop.close() == 0);
  }

 private:
  std::shared_ptr<test_support::Record> record_ = std::make_shared<test_support::Record>();
};

}  // namespace

TEST_CASE(
    "our client chooses its certificate 50 ms after openssl s_server -Verify 1 asks, over TLS 1.2 and 1.3") {
  TestDir dir;
  const Identity server_ca = make_ca(dir, "server-ca");
  const Identity client_ca = make_ca(dir, "client-ca");
  const Identity alice = client_leaf(dir, "alice", client_ca);
  const auto mine = test_support::must(tls::Certificate::load({alice.cert, alice.key}));
  for (const std::string version : {"-tls1_2", "-tls1_3"}) {
    CAPTURE(version);
    SServer server(server_leaf(dir, server_ca, "localhost"),
                   {"-Verify", "1", "-CAfile", client_ca.cert, version});
    ChoosingClient client;
    client.fetch(server.port(), server_ca.cert, mine);
    CHECK(client.asked == 1);
    CHECK(client.ca_names == std::vector<std::string>{"/CN=client-ca"});
    CHECK_MESSAGE(!client.error, client.error.message());
    // s_server -www describes the session, with the client certificate it verified.
    CHECK_MESSAGE(has(client.body, "Client certificate"), client.body);
    CHECK_MESSAGE(has(client.body, "Subject: CN=alice"), client.body);
    server.check_exits();
  }
}

TEST_CASE(
    "our client that declines to send a certificate is refused by openssl s_server -Verify 1") {
  TestDir dir;
  const Identity server_ca = make_ca(dir, "server-ca");
  const Identity client_ca = make_ca(dir, "client-ca");
  SServer server(server_leaf(dir, server_ca, "localhost"),
                 {"-Verify", "1", "-CAfile", client_ca.cert});
  ChoosingClient client;
  client.fetch(server.port(), server_ca.cert, nullptr);
  CHECK(client.asked == 1);
  // TLS 1.3: our side of the handshake is done when s_server's certificate_required arrives.
  CHECK_MESSAGE(has(client.error.message(), "alert certificate required"), client.error.message());
  CHECK_MESSAGE(!has(client.body, "HTTP/1.0 200"), client.body);
  server.check_exits();
}
