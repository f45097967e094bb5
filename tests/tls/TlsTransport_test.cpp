#include <doctest/doctest.h>

#include "reactor/Timer.hpp"
#include "tests/support/Pair.hpp"
#include "tests/support/TestPki.hpp"

using namespace std::chrono_literals;
using test_support::Pair;
using test_support::Recorder;

namespace {

struct TlsPair : Pair {
  explicit TlsPair(const test_support::TestPki& pki, const tls::dev::Files* identity = nullptr) {
    tls::ServerConfig sc;
    sc.certificates = {(identity != nullptr ? *identity : pki.ecdsa).leaf};
    server_tls = test_support::server_context(sc);
    tls::ClientConfig cc;
    cc.ca_file = pki.all_server_cas;
    client_tls = test_support::client_context(cc);
  }
};

void echo(Recorder& h) {
  h.data = [](reactor::Connection& c, std::span<const std::byte> d) {
    if (!c.write(d)) c.pause_reading();
  };
  h.drain = [](reactor::Connection& c) { c.resume_reading(); };
}

}  // namespace

TEST_CASE("TLS echo: 8 MiB byte-exact, then close_notify both ways and no error on either side") {
  test_support::TestPki pki;
  TlsPair p(pki);
  const std::string payload = test_support::pattern(8 << 20);
  std::string client_protocol, server_sni;
  p.script_server = [&](Recorder& h) {
    echo(h);
    h.open = [&](reactor::Connection& c) { server_sni = tls::info(c)->server_name; };
  };
  p.script_client = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      client_protocol = tls::info(c)->protocol;
      c.write(payload);
      c.shutdown();  // close_notify after the data; the echo keeps coming
    };
  };
  p.run();
  CHECK(client_protocol == "TLSv1.3");
  CHECK(server_sni == "localhost");
  CHECK(p.server->data.size() == payload.size());
  CHECK(p.client->data == payload);
  CHECK(p.server->peer_closed);  // the client's close_notify
  CHECK(p.client->peer_closed);  // the server's, sent when its handler closed
  CHECK_MESSAGE(!p.server->error, p.server->error.message());
  CHECK_MESSAGE(!p.client->error, p.client->error.message());
  CHECK(p.close() == 0);
}

TEST_CASE("a plain TCP client that never starts a handshake is cut off at the handshake timeout") {
  test_support::TestPki pki;
  TlsPair p(pki);
  p.client_tls.reset();  // the client speaks plain TCP and says nothing
  p.server_transport.handshake_timeout = 300ms;
  p.run();
  CHECK_FALSE(p.server->opened);  // on_close without on_open: the handshake never finished
  CHECK(p.server->error.code() == tls::Errc::handshake_timeout);
  CHECK(p.server->error.message() == "handshake: handshake timed out: no handshake within 300 ms");
  CHECK(p.close() == 0);
}

TEST_CASE(
    "a client that does not trust the server's CA fails with the verify reason, so does the server") {
  test_support::TestPki pki;
  TlsPair p(pki);
  tls::ClientConfig cc;
  cc.ca_file = pki.client.ca_file;  // a CA that signed nothing the server has
  p.client_tls = test_support::client_context(cc);
  p.run();
  CHECK_FALSE(p.client->opened);
  CHECK_FALSE(p.server->opened);
  CHECK(p.client->error.code() == tls::Errc::verify_failed);
  // The server sends its CA along with its leaf, so OpenSSL finds a self-signed root it does
  // not trust.
  CHECK(p.client->error.message() ==
        "handshake: certificate verify failed: self-signed certificate in certificate chain");
  CHECK(p.server->error.code() == tls::Errc::handshake_failed);
  CHECK(p.server->error.detail() == "tlsv1 alert unknown ca");
  CHECK(p.close() == 0);
}

TEST_CASE(
    "a certificate for another name fails with 'certificate verify failed: hostname mismatch'") {
  test_support::TestPki pki;
  TlsPair p(pki, &pki.other);  // the server presents other.test; the client asks for localhost
  p.run();
  CHECK(p.client->error.message() == "handshake: certificate verify failed: hostname mismatch");
  CHECK_FALSE(p.server->opened);
  CHECK(p.close() == 0);
}

TEST_CASE("close() after a write: the peer gets the data and on_peer_closed, nobody an error") {
  test_support::TestPki pki;
  TlsPair p(pki);
  p.script_server = [](Recorder& h) {
    h.open = [](reactor::Connection& c) {
      c.write("bye");
      c.close();
    };
  };
  p.run();
  CHECK(p.client->data == "bye");
  CHECK(p.client->peer_closed);
  CHECK_MESSAGE(!p.client->error, p.client->error.message());
  CHECK_MESSAGE(!p.server->error, p.server->error.message());
  CHECK(p.close() == 0);
}

TEST_CASE("TLS backpressure: a paused reader holds the writer near the high-water mark") {
  test_support::TestPki pki;
  TlsPair p(pki);
  const std::string payload = test_support::pattern(32 << 20);
  std::size_t peak_buffered = 0;
  bool write_refused = false;
  reactor::Timer resume(p.loop);
  std::size_t offset = 0;
  // The server writes in 1 MiB steps while write() says yes, and continues from on_drain.
  std::function<void(reactor::Connection&)> pump = [&](reactor::Connection& c) {
    while (offset < payload.size()) {
      const auto n = std::min<std::size_t>(1 << 20, payload.size() - offset);
      const bool more = c.write(std::string_view(payload).substr(offset, n));
      offset += n;
      peak_buffered = std::max(peak_buffered, c.stats().queued_bytes);
      if (!more) {
        write_refused = true;
        return;
      }
    }
    c.close();
  };
  p.script_server = [&](Recorder& h) {
    h.open = pump;
    h.drain = pump;
  };
  p.script_client = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      c.pause_reading();
      resume.start(300ms, 0ms, [&c] { c.resume_reading(); });
    };
  };
  p.run();
  CHECK(write_refused);
  CHECK(p.server->drains > 0);
  CHECK(p.client->data == payload);
  // One 1 MiB write on top of the mark, plus records in flight: never the whole 32 MiB.
  CHECK(peak_buffered < reactor::WriteLimits{}.high + (1 << 20) + 64 * 1024);
  CHECK(p.close() == 0);
}
