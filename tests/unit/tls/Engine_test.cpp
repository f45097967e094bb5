// tls::Engine, two of them back to back in memory. Every SSL_get_error result named here is
// produced for real by OpenSSL, never simulated.
#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>

#include "tests/support/Pattern.hpp"
#include "tests/support/StuckListener.hpp"
#include "tests/support/TestPki.hpp"
#include "tests/unit/tls/EnginePair.hpp"

using namespace test_support;
using tls::Engine;
using tls::Want;
using Op = tls::Engine::Op;

namespace {

// Parses TLS records (5-byte headers) from a captured ciphertext stream.
struct Record {
  int type;
  std::size_t length;
};
std::vector<Record> records_in(const std::vector<std::byte>& stream) {
  std::vector<Record> out;
  std::size_t i = 0;
  while (i + 5 <= stream.size()) {
    const auto b = [&](std::size_t k) { return std::to_integer<std::size_t>(stream[i + k]); };
    const std::size_t len = (b(3) << 8) | b(4);
    out.push_back({static_cast<int>(b(0)), len});
    i += 5 + len;
  }
  return out;
}

}  // namespace

TEST_CASE(
    "handshakes complete over TLS 1.2 and 1.3 with ECDSA and RSA keys, data flows both ways") {
  TestPki pki;
  for (const auto* files : {&pki.ecdsa, &pki.rsa}) {
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
      const bool rsa = files == &pki.rsa;
      CAPTURE(rsa);
      CAPTURE(version);
      auto sc = serving(*files);
      sc.min_version = sc.max_version = version;
      EnginePair p(client_context(trusting(files->ca_file)), server_context(sc));
      REQUIRE(p.handshake());
      const std::string expected = version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2";
      CHECK(p.client.info().protocol == expected);
      CHECK(p.server.info().protocol == expected);
      if (version == TLS1_2_VERSION)
        CHECK(p.client.info().cipher.find(rsa ? "ECDHE-RSA" : "ECDHE-ECDSA") == 0);
      CHECK(p.client.info().peer_subject.find("localhost") != std::string::npos);
      CHECK_FALSE(p.client.info().resumed);
      CHECK((p.client.take_events() & Engine::handshake_done) != 0);
      p.client.write(bytes("ping"));
      p.server.write(bytes("pong"));
      p.pump();
      CHECK(p.server_in.data == "ping");
      CHECK(p.client_in.data == "pong");
      CHECK(p.client.result_count(SSL_ERROR_WANT_READ) > 0);
    }
  }
}

TEST_CASE("ciphertext dribbled one byte at a time gives WANT_READ at every step and exact data") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  p.chunk = 1;
  const std::string message = pattern(100 * 1024);
  p.client.write(bytes(message));
  REQUIRE(p.handshake());
  p.pump();
  CHECK(p.server_in.data == message);
  // Roughly one WANT_READ per byte of the ~100 KiB that crossed to the server.
  CHECK(p.server.result_count(Op::read, SSL_ERROR_WANT_READ) > 100'000);
  CHECK(p.server.result_count(Op::handshake, SSL_ERROR_WANT_READ) > 100);
  CHECK_FALSE(p.server.error());
}

TEST_CASE("a bounded output BIO produces WANT_WRITE for real and the engine recovers byte-exact") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.rsa.ca_file)), server_context(serving(pki.rsa)),
               {"localhost", 443, 4096}, {"", 0, 1024});
  const std::string up = pattern(1 << 20, 2);
  const std::string down = pattern(1 << 20, 3);
  p.client.write(bytes(up));
  p.server.write(bytes(down));
  REQUIRE(p.handshake());
  p.pump();
  CHECK(p.server_in.data == up);
  CHECK(p.client_in.data == down);
  // The server's certificate flight alone is larger than 1 KiB.
  CHECK(p.server.result_count(Op::handshake, SSL_ERROR_WANT_WRITE) > 0);
  CHECK(p.client.result_count(Op::write, SSL_ERROR_WANT_WRITE) > 0);
  CHECK(p.server.result_count(Op::write, SSL_ERROR_WANT_WRITE) > 0);
}

TEST_CASE("close_notify arrives as ZERO_RETURN, the other side may still write, then both close") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  REQUIRE(p.handshake());
  p.client.write(bytes("last words"));
  p.client.close();
  p.pump();
  CHECK(p.server_in.data == "last words");
  CHECK(p.client.close_notify_sent());
  CHECK(p.server.is_peer_closed());
  CHECK(p.server.result_count(Op::read, SSL_ERROR_ZERO_RETURN) == 1);
  CHECK((p.server.take_events() & Engine::peer_closed) != 0);
  // TLS 1.3 half-close: the server still answers after the client's close_notify.
  p.server.write(bytes("reply after close"));
  p.server.close();
  p.pump();
  CHECK(p.client_in.data == "reply after close");
  CHECK(p.client.is_closed());
  CHECK(p.server.is_closed());
  CHECK_FALSE(p.client.error());
  CHECK_FALSE(p.server.error());
}

TEST_CASE("the phase moves forwards only and closed remembers the phase it ended in") {
  using Phase = Engine::Phase;
  TestPki pki;
  SUBCASE("a clean close: handshaking, open, closing, shutdown_sent, closed") {
    EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
    CHECK(p.client.phase() == Phase::handshaking);
    REQUIRE(p.handshake());
    CHECK(p.client.phase() == Phase::open);
    p.client.close();
    CHECK(p.client.phase() == Phase::closing);
    p.client.close();  // a second close changes nothing
    CHECK(p.client.phase() == Phase::closing);
    p.pump();
    CHECK(p.client.phase() == Phase::shutdown_sent);
    CHECK(p.server.phase() == Phase::open);  // the peer's close_notify is not a phase of ours
    CHECK(p.server.is_peer_closed());
    p.server.close();
    p.pump();
    CHECK(p.client.phase() == Phase::closed);
    CHECK(p.client.reached() == Phase::shutdown_sent);
    CHECK(p.client.is_handshake_done());
    CHECK(p.client.close_notify_sent());
    p.client.close();  // after the end: still closed, still remembering
    CHECK(p.client.reached() == Phase::shutdown_sent);
  }
  SUBCASE("close() during the handshake has nothing to notify: closed at once, never opened") {
    EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
    p.client.close();
    CHECK(p.client.is_closed());
    CHECK(p.client.reached() == Phase::handshaking);
    CHECK_FALSE(p.client.is_handshake_done());
    CHECK_FALSE(p.client.close_notify_sent());
    CHECK(p.client.advance(p.client_in, p.scratch).want == Want::closed);
    CHECK(p.client.peek_output().empty());  // no ClientHello went out
  }
  SUBCASE("a failure after the handshake: closed from open, the handshake still done") {
    EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
    REQUIRE(p.handshake());
    p.server.feed_eof();
    p.pump();
    CHECK(p.server.phase() == Phase::closed);
    CHECK(p.server.reached() == Phase::open);
    CHECK(p.server.is_handshake_done());
    CHECK_FALSE(p.server.close_notify_sent());
  }
}

TEST_CASE("advance() says what it produced: output, plaintext, events, plaintext left queued") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  tls::Progress first = p.client.advance(p.client_in, p.scratch);
  CHECK(first.want == Want::input);
  CHECK(first.output);  // the ClientHello
  CHECK_FALSE(first.plaintext);
  CHECK_FALSE(first.events);
  CHECK_FALSE(first.closed());
  p.flush(p.client, p.server);
  CHECK(p.server.advance(p.server_in, p.scratch).output);  // ServerHello .. Finished
  p.flush(p.server, p.client);
  const tls::Progress done = p.client.advance(p.client_in, p.scratch);
  CHECK(done.events);  // handshake_done
  CHECK(done.output);  // the client's Finished
  CHECK((p.client.take_events() & Engine::handshake_done) != 0);
  REQUIRE(p.handshake());
  p.client.write(bytes(std::string(40 * 1024, 'x')));
  const tls::Progress budgeted = p.client.advance(p.client_in, p.scratch, 16 * 1024);
  CHECK(budgeted.queued);  // 24 KiB left for the next budget
  CHECK(budgeted.output);
  CHECK_FALSE(budgeted.plaintext);
  p.flush(p.client, p.server);
  const tls::Progress read = p.server.advance(p.server_in, p.scratch);
  CHECK(read.plaintext);
  CHECK_FALSE(read.queued);
  const tls::Progress idle = p.server.advance(p.server_in, p.scratch);
  CHECK_FALSE(idle.plaintext);
  CHECK_FALSE(idle.output);
  p.client.advance(p.client_in, p.scratch);  // the rest
  p.client.close();
  const tls::Progress closing = p.client.advance(p.client_in, p.scratch);
  CHECK(closing.output);  // close_notify
  CHECK_FALSE(closing.queued);
  p.flush(p.client, p.server);
  CHECK(p.server.advance(p.server_in, p.scratch).events);  // the client's close_notify
}

TEST_CASE("a transport cut without close_notify is reported as stream_truncated") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  REQUIRE(p.handshake());
  p.client.write(bytes("partial"));
  p.pump();
  p.server.feed_eof();
  p.pump();
  CHECK(p.server_in.data == "partial");
  REQUIRE(p.server.error());
  CHECK(p.server.error().code == tls::Errc::stream_truncated);
  CHECK(p.server.error().context == "read");
  CHECK(p.server.is_closed());
  CHECK(p.server_want == Want::closed);
  CHECK(p.server.error().message() ==
        "read: stream truncated: the peer closed without close_notify");
}

TEST_CASE("garbage instead of a ClientHello fails the handshake with an SSL error and an alert") {
  TestPki pki;
  auto ctx = server_context(serving(pki.ecdsa));
  SUBCASE("an HTTP request") {
    Engine server(ctx);
    server.feed(bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    Collect sink;
    std::vector<std::byte> scratch(4096);
    CHECK(server.advance(sink, scratch).want == Want::closed);
    CHECK(server.error().code == tls::Errc::handshake_failed);
    CHECK(server.error().ssl_error == SSL_ERROR_SSL);
    CHECK(server.error().detail == "http request");
  }
  SUBCASE("a handshake record with a nonsense body") {
    Engine server(ctx);
    const unsigned char junk[] = {0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00,
                                  0x00, 0x04, 0xde, 0xad, 0xbe, 0xef};
    server.feed(std::as_bytes(std::span(junk)));
    Collect sink;
    std::vector<std::byte> scratch(4096);
    CHECK(server.advance(sink, scratch).want == Want::closed);
    CHECK(server.error().code == tls::Errc::handshake_failed);
    CHECK(server.result_count(Op::handshake, SSL_ERROR_SSL) == 1);
    // The alert the peer should see is waiting in the output: a record of type 21.
    const auto out = server.peek_output();
    REQUIRE(out.size() >= 7);
    CHECK(std::to_integer<int>(out[0]) == 21);
    CHECK(std::to_integer<int>(out[5]) == 2);  // fatal
  }
}

TEST_CASE("junk left in the thread's error queue does not turn a WANT_READ into an error") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  p.chunk = 7;
  const std::string message = pattern(50'000);
  p.client.write(bytes(message));
  for (int i = 0; i < 100'000 && !(p.server_in.data.size() == message.size()); ++i) {
    // Somebody else's failed OpenSSL call, not cleaned up, before each of our operations.
    ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH);
    p.client_want = p.client.advance(p.client_in, p.scratch).want;
    ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
    p.server_want = p.server.advance(p.server_in, p.scratch).want;
    p.transfer(p.client, p.server);
    p.transfer(p.server, p.client);
  }
  CHECK(p.server_in.data == message);
  CHECK_FALSE(p.client.error());
  CHECK_FALSE(p.server.error());
  CHECK(p.server.result_count(SSL_ERROR_SSL) == 0);
  ERR_clear_error();
}

TEST_CASE("plaintext queued before the handshake is sent after it, in records of at most 16 KiB") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  const std::string message = pattern(1 << 20);
  p.client.write(bytes(message));
  CHECK(p.client.queued_plaintext() == message.size());
  std::vector<std::byte> wire;
  for (int i = 0; i < 10'000; ++i) {
    p.client_want = p.client.advance(p.client_in, p.scratch).want;
    p.server_want = p.server.advance(p.server_in, p.scratch).want;
    const auto out = p.client.peek_output();
    wire.insert(wire.end(), out.begin(), out.end());
    const bool moved = p.transfer(p.client, p.server) | p.transfer(p.server, p.client);
    if (!moved) break;
  }
  CHECK(p.server_in.data == message);
  std::size_t app_records = 0;
  for (const Record& r : records_in(wire)) {
    if (r.type != 23) continue;  // TLS 1.3 wraps everything after the hello in type 23
    ++app_records;
    // 16 KiB of plaintext + content type byte + 16-byte AEAD tag.
    CHECK(r.length <= Engine::max_record + 1 + 16);
  }
  CHECK(app_records >= (1 << 20) / Engine::max_record);
}

TEST_CASE("the engine hands SSL_write_ex at most 16 KiB per call, never a whole large write") {
  // OpenSSL cuts records at 16 KiB by itself, so record sizes on the wire cannot tell what the
  // engine offered per call. Partial-write mode (which the Context sets) can: with it, an
  // SSL_write_ex returns after one record, so a call offered more than a record's plaintext
  // comes back short and the engine counts a partial write.
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  REQUIRE(p.handshake());
  REQUIRE((SSL_get_mode(p.client.native()) & SSL_MODE_ENABLE_PARTIAL_WRITE) != 0);
  const auto before = p.client.result_count(Op::write, SSL_ERROR_NONE);
  const std::string message = pattern((1 << 20) + 5, 7);
  p.client.write(bytes(message));
  p.pump();
  CHECK(p.server_in.data == message);
  CHECK(p.client.partial_writes() == 0);
  // 64 calls of exactly 16 KiB and one of the 5 bytes left.
  CHECK(p.client.result_count(Op::write, SSL_ERROR_NONE) - before == 65);
}

TEST_CASE("a write that got WANT_WRITE is retried with its own length when the budget shrank") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)),
               {"localhost", 443, 4096}, {});
  REQUIRE(p.handshake());
  const std::string message = pattern(64 * 1024, 5);
  p.client.write(bytes(message));
  // A whole record (16 KiB) does not fit the 4 KiB output: the call wants a retry.
  CHECK(p.client.advance(p.client_in, p.scratch).want == Want::output);
  CHECK(p.client.result_count(Op::write, SSL_ERROR_WANT_WRITE) == 1);
  // From now on each advance may encrypt only 100 bytes, far less than the call left pending.
  // OpenSSL fails a retry offered fewer bytes than the first try (SSL_R_BAD_LENGTH), so the
  // pending call must be repeated with its 16 KiB whatever the budget says.
  for (int i = 0; i < 10'000 && p.server_in.data.size() < message.size(); ++i) {
    p.client_want = p.client.advance(p.client_in, p.scratch, 100).want;
    p.server_want = p.server.advance(p.server_in, p.scratch).want;
    p.flush(p.client, p.server);
    p.flush(p.server, p.client);
    if (p.client.error()) break;
  }
  CHECK_MESSAGE(!p.client.error(), p.client.error().message());
  CHECK(p.server_in.data == message);
  CHECK(p.client.result_count(Op::write, SSL_ERROR_WANT_WRITE) >= 1);
  CHECK(p.client.result_count(Op::write, SSL_ERROR_SSL) == 0);
}

TEST_CASE("a zero-length write is never issued to OpenSSL") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  REQUIRE(p.handshake());
  const auto before = p.client.result_count(Op::write, SSL_ERROR_NONE);
  p.client.write({});
  CHECK(p.client.queued_plaintext() == 0);
  p.pump();
  CHECK(p.client.result_count(Op::write, SSL_ERROR_NONE) == before);
  CHECK(p.server_in.data.empty());
}

TEST_CASE("partial-write mode: short SSL_write successes continue from where they stopped") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)),
               {"localhost", 443, 2048}, {});
  REQUIRE(p.handshake());
  // Small records and a small output: one 16 KiB SSL_write spans many records and the output
  // fills part-way, so SSL_MODE_ENABLE_PARTIAL_WRITE returns short counts.
  SSL_set_max_send_fragment(p.client.native(), 512);
  const std::string message = pattern(256 * 1024, 9);
  p.client.write(bytes(message));
  p.pump();
  CHECK(p.server_in.data == message);
  CHECK(p.client.partial_writes() > 0);
  CHECK(p.client.result_count(Op::write, SSL_ERROR_WANT_WRITE) > 0);
}

TEST_CASE(
    "TLS 1.2 renegotiation by the server in the middle of a large write: WANT_READ, then exact") {
  TestPki pki;
  auto sc = serving(pki.ecdsa);
  sc.max_version = TLS1_2_VERSION;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(sc),
               {"localhost", 443, 16 * 1024}, {});
  REQUIRE(p.handshake());
  const std::string message = pattern(4 << 20, 4);
  p.client.write(bytes(message));
  p.pump(20);  // part of the write is through
  CHECK(p.server_in.data.size() < message.size());
  REQUIRE_FALSE(p.server.renegotiate());
  p.pump();
  CHECK(p.server_in.data == message);
  // The write had to wait for the renegotiation's reply: SSL_write reported WANT_READ.
  CHECK(p.client.result_count(Op::write, SSL_ERROR_WANT_READ) > 0);
  CHECK(SSL_renegotiate_pending(p.client.native()) == 0);
  CHECK(SSL_num_renegotiations(p.server.native()) == 1);
  CHECK_FALSE(p.client.error());
  CHECK_FALSE(p.server.error());
}

TEST_CASE("client-initiated renegotiation is refused by default and allowed by the option") {
  TestPki pki;
  for (const bool allow : {false, true}) {
    CAPTURE(allow);
    auto sc = serving(pki.ecdsa);
    sc.max_version = TLS1_2_VERSION;
    sc.allow_client_renegotiation = allow;
    EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(sc));
    REQUIRE(p.handshake());
    REQUIRE_FALSE(p.client.renegotiate());
    p.client.write(bytes("after"));
    p.pump();
    if (allow) {
      CHECK(p.server_in.data == "after");
      CHECK_FALSE(p.client.error());
      CHECK(SSL_num_renegotiations(p.client.native()) == 1);
    } else {
      CHECK(p.client.error().code == tls::Errc::protocol_error);
      CHECK(p.client.error().detail == "no renegotiation");
      CHECK(p.server_in.data.empty());
    }
  }
}

TEST_CASE("renegotiate and key_update say why they cannot start: too early, or the wrong version") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  const reactor::Error early = p.client.renegotiate();
  CHECK((early.code() == std::errc::operation_not_permitted));
  CHECK(early.context() == "renegotiate");
  CHECK((p.client.key_update(false).code() == std::errc::operation_not_permitted));
  REQUIRE(p.handshake());
  // TLS 1.3 has no renegotiation: OpenSSL refuses and says so.
  const reactor::Error refused = p.client.renegotiate();
  CHECK((refused.code() == tls::Errc::protocol_error));
  CHECK_FALSE(refused.detail().empty());
  CHECK_FALSE(p.client.key_update(false));
}

TEST_CASE("TLS 1.3 KeyUpdate both ways mid-stream, and a requested update is answered by a read") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  REQUIRE(p.handshake());
  p.client.write(bytes("one "));
  p.pump();
  REQUIRE_FALSE(p.client.key_update(false));
  p.client.write(bytes("two "));
  p.pump();
  // The server asks the client to update too; the client's reply is produced by its read.
  REQUIRE_FALSE(p.server.key_update(true));
  p.server.advance(p.server_in, p.scratch);
  p.flush(p.server, p.client);
  REQUIRE(p.client.output_size() == 0);
  p.client.advance(p.client_in, p.scratch);
  CHECK(p.client.queued_plaintext() == 0);
  CHECK(p.client.output_size() > 0);  // a KeyUpdate, though the application wrote nothing
  p.pump();
  p.client.write(bytes("three"));
  p.server.write(bytes("back"));
  p.pump();
  CHECK(p.server_in.data == "one two three");
  CHECK(p.client_in.data == "back");
  CHECK_FALSE(p.client.error());
  CHECK_FALSE(p.server.error());
}

TEST_CASE(
    "a TLS 1.3 NewSessionTicket arrives after the handshake and resumes the next connection") {
  TestPki pki;
  auto client_ctx = client_context(trusting(pki.ecdsa.ca_file));
  auto server_ctx = server_context(serving(pki.ecdsa));
  {
    EnginePair p(client_ctx, server_ctx);
    REQUIRE(p.handshake());
    CHECK(SSL_SESSION_has_ticket(SSL_get0_session(p.client.native())) == 1);
    CHECK_FALSE(p.client.info().resumed);
    p.close_both();  // SSL_free without close_notify makes OpenSSL forget the session
  }
  EnginePair again(client_ctx, server_ctx);
  REQUIRE(again.handshake());
  CHECK(again.client.info().resumed);
  CHECK(again.server.info().resumed);
}

TEST_CASE("TLS 1.2 resumes by ticket and by session id") {
  TestPki pki;
  for (const bool tickets : {true, false}) {
    CAPTURE(tickets);
    auto sc = serving(pki.ecdsa);
    sc.max_version = TLS1_2_VERSION;
    sc.session_tickets = tickets;
    auto client_ctx = client_context(trusting(pki.ecdsa.ca_file));
    auto server_ctx = server_context(sc);
    {
      EnginePair p(client_ctx, server_ctx);
      REQUIRE(p.handshake());
      p.close_both();
    }
    EnginePair again(client_ctx, server_ctx);
    REQUIRE(again.handshake());
    CHECK(again.client.info().resumed);
  }
}

TEST_CASE("two servers sharing a ticket key file resume each other's sessions") {
  TestPki pki;
  for (const int size : {80, 48}) {
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
      CAPTURE(size);
      CAPTURE(version);
      const std::string key_file = pki.path("ticket-" + std::to_string(size) + ".key");
      {
        std::vector<unsigned char> key(static_cast<std::size_t>(size));
        REQUIRE(RAND_bytes(key.data(), size) == 1);
        std::ofstream(key_file, std::ios::binary)
            .write(reinterpret_cast<const char*>(key.data()), size);
      }
      auto sc = serving(pki.ecdsa);
      sc.max_version = version;
      sc.ticket_key_files = {key_file};
      auto a = server_context(sc);
      auto b = server_context(sc);
      auto client_ctx = client_context(trusting(pki.ecdsa.ca_file));
      {
        EnginePair p(client_ctx, a);
        REQUIRE(p.handshake());
        p.close_both();
      }
      EnginePair q(client_ctx, b);
      REQUIRE(q.handshake());
      CHECK(q.client.info().resumed);
    }
  }
}

TEST_CASE("mutual TLS: a client certificate from the trusted CA is accepted, others are refused") {
  TestPki pki;
  auto sc = serving(pki.ecdsa);
  sc.client_auth = tls::ClientAuth::require;
  sc.client_ca_file = pki.client.ca_file;
  auto server_ctx = server_context(sc);
  SUBCASE("accepted") {
    auto cc = trusting(pki.ecdsa.ca_file);
    cc.client_certificate = pki.client.leaf;
    EnginePair p(client_context(cc), server_ctx);
    REQUIRE(p.handshake());
    CHECK(p.server.info().peer_subject.find("client.test") != std::string::npos);
  }
  SUBCASE("no certificate") {
    EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_ctx);
    p.client.write(bytes("hello?"));
    p.pump();
    CHECK(p.server.error().code == tls::Errc::handshake_failed);
    CHECK(p.server.error().detail == "peer did not return a certificate");
    CHECK(p.server_in.data.empty());
    CHECK(p.client.is_closed());  // the server's alert reached the client
  }
  SUBCASE("a certificate from another CA") {
    auto cc = trusting(pki.ecdsa.ca_file);
    cc.client_certificate = pki.other.leaf;
    EnginePair p(client_context(cc), server_ctx);
    p.pump();
    CHECK(p.server.error().code == tls::Errc::verify_failed);
    CHECK(p.server.error().message().find("handshake: certificate verify failed: ") == 0);
    CHECK(p.client.is_closed());
  }
}

TEST_CASE(
    "SNI picks the certificate (exact, wildcard, default) and a name mismatch fails verification") {
  TestPki pki;
  tls::ServerConfig sc;
  sc.certificates = {pki.ecdsa.leaf, pki.other.leaf, pki.wild.leaf};
  auto server_ctx = server_context(sc);
  auto client_ctx = client_context(trusting(pki.all_server_cas));
  const auto connect = [&](const std::string& host) {
    return std::make_unique<EnginePair>(client_ctx, server_ctx, tls::EngineOptions{host, 443, 0});
  };
  auto exact = connect("other.test");
  REQUIRE(exact->handshake());
  CHECK(exact->server.info().server_name == "other.test");
  CHECK(exact->client.info().peer_subject.find("other.test") != std::string::npos);
  auto wildcard = connect("a.wild.test");
  REQUIRE(wildcard->handshake());
  CHECK(wildcard->client.info().peer_subject.find("*.wild.test") != std::string::npos);
  auto fallback = connect("localhost");
  REQUIRE(fallback->handshake());
  CHECK(fallback->client.info().peer_subject.find("localhost") != std::string::npos);
  auto mismatch = connect("nomatch.test");
  mismatch->pump();
  CHECK(mismatch->client.error().code == tls::Errc::verify_failed);
  CHECK(mismatch->client.error().message() ==
        "handshake: certificate verify failed: hostname mismatch");
  CHECK(mismatch->server.is_closed());  // told by the client's alert

  auto strict = sc;
  strict.strict_sni = true;
  EnginePair refused(client_ctx, server_context(strict), {"nomatch.test", 443, 0});
  refused.pump();
  CHECK(refused.client.error().code == tls::Errc::handshake_failed);
  CHECK(refused.client.error().detail.find("unrecognized name") != std::string::npos);
  CHECK(refused.server.error().code == tls::Errc::unrecognized_name);
  CHECK(refused.server.error().message() ==
        "handshake: no certificate for the requested server name: nomatch.test");
}

TEST_CASE("ALPN: the server's preference among the client's offers, or a refusal") {
  TestPki pki;
  auto sc = serving(pki.ecdsa);
  sc.alpn = {"h2", "http/1.1"};
  auto server_ctx = server_context(sc);
  auto offer = [&](std::vector<std::string> protocols) {
    auto cc = trusting(pki.ecdsa.ca_file);
    cc.alpn = std::move(protocols);
    return std::make_unique<EnginePair>(client_context(cc), server_ctx);
  };
  auto agreed = offer({"http/1.1", "h2"});
  REQUIRE(agreed->handshake());
  CHECK(agreed->client.info().alpn == "h2");
  CHECK(agreed->server.info().alpn == "h2");
  auto only_http1 = offer({"http/1.1"});
  REQUIRE(only_http1->handshake());
  CHECK(only_http1->client.info().alpn == "http/1.1");
  auto mismatch = offer({"spdy/3"});
  mismatch->pump();
  CHECK(mismatch->client.error().code == tls::Errc::handshake_failed);
  CHECK(mismatch->client.error().detail.find("no application protocol") != std::string::npos);
}

TEST_CASE("a sink that stops keeps the rest buffered until the next advance") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  REQUIRE(p.handshake());
  const std::string message = pattern(100 * 1024, 5);
  p.server_in.stop_after_each = true;
  p.client.write(bytes(message));
  p.client.advance(p.client_in, p.scratch);
  p.flush(p.client, p.server);
  p.server.advance(p.server_in, p.scratch);
  CHECK(p.server_in.data.size() <= Engine::max_record);
  CHECK(p.server.has_buffered_input());
  int advances = 1;
  while (p.server.has_buffered_input() && advances < 1000) {
    p.server.advance(p.server_in, p.scratch);
    ++advances;
  }
  CHECK(p.server_in.data == message);
  CHECK(advances >= static_cast<int>(message.size() / Engine::max_record));
}

TEST_CASE("release_buffers gives the record buffers back between records, and both sides go on") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  REQUIRE(p.handshake());
  for (int round = 1; round <= 3; ++round) {
    const std::string message = pattern(3000, round);
    p.client.write(bytes(message));
    p.pump();
    REQUIRE(p.server_in.data == message);
    p.server.write(bytes(message));
    p.pump();
    REQUIRE(p.client_in.data == message);
    p.server_in.data.clear();
    p.client_in.data.clear();
    CHECK(p.server.release_buffers());
    CHECK(p.client.release_buffers());
    CHECK(p.server.buffer_releases() == static_cast<std::uint32_t>(round));
    CHECK(p.client.buffer_releases() == static_cast<std::uint32_t>(round));
    // Nothing taken since: nothing to give back, and nothing counted.
    CHECK(p.server.release_buffers());
    CHECK(p.server.buffer_releases() == static_cast<std::uint32_t>(round));
  }
  CHECK(p.server.buffer_release_refusals() == 0);
  p.close_both();
  CHECK(p.client.is_closed());
  CHECK(p.server.is_closed());
  CHECK_FALSE(p.server.error());
}

TEST_CASE("release_buffers refuses while part of a record is inside, and the record survives") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  REQUIRE(p.handshake());
  const std::string message = pattern(5000, 3);
  p.client.write(bytes(message));
  p.client.advance(p.client_in, p.scratch);
  const auto out = p.client.peek_output();
  const std::vector<std::byte> record(out.begin(), out.end());
  p.client.consume_output(record.size());
  REQUIRE(records_in(record).size() == 1);
  // Header and part of the body: OpenSSL reads them into its buffer and waits for the rest.
  const std::size_t half = record.size() / 2;
  p.server.feed(std::span(record).first(half));
  CHECK(p.server.advance(p.server_in, p.scratch).want == Want::input);
  CHECK(p.server_in.data.empty());
  CHECK(p.server.buffered_input() == 0);  // the part is inside OpenSSL now, not in our BIO
  CHECK_FALSE(p.server.release_buffers());
  CHECK_FALSE(p.server.release_buffers());
  CHECK(p.server.buffer_release_refusals() == 2);
  CHECK(p.server.buffer_releases() == 0);
  p.server.feed(std::span(record).subspan(half));
  p.server.advance(p.server_in, p.scratch);
  CHECK(p.server_in.data == message);
  CHECK(p.server.release_buffers());
  CHECK(p.server.buffer_releases() == 1);
  CHECK_FALSE(p.server.error());
}

TEST_CASE("write_now encrypts within its budget at once and queues only the rest, in order") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  const std::string early = pattern(1000);
  p.client.write_now(bytes(early), SIZE_MAX);  // before the handshake: queued
  CHECK(p.client.queued_plaintext() == early.size());
  REQUIRE(p.handshake());
  p.pump();
  const std::string message = pattern(100 * 1024);
  p.client.write_now(bytes(message), 40 * 1024);
  CHECK(p.client.queued_plaintext() == message.size() - 40 * 1024);
  CHECK(p.client.output_size() > 40 * 1024);    // ciphertext of the part taken, before advance()
  p.client.write_now(bytes("tail"), SIZE_MAX);  // behind a queue: queued, never overtaking it
  CHECK(p.client.queued_plaintext() == message.size() - 40 * 1024 + 4);
  p.pump();
  CHECK(p.server_in.data == early + message + "tail");
  CHECK(p.client.queued_plaintext() == 0);
}

TEST_CASE("write_now over a bounded output queues instead, so a WANT_WRITE can be retried") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)),
               {"localhost", 443, 4096}, {});
  REQUIRE(p.handshake());
  const std::string message = pattern(64 * 1024);
  p.client.write_now(bytes(message), SIZE_MAX);
  CHECK(p.client.queued_plaintext() == message.size());
  p.pump();
  CHECK(p.server_in.data == message);
}

TEST_CASE("the write budget bounds how much plaintext one advance encrypts") {
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)));
  REQUIRE(p.handshake());
  p.client.write(bytes(pattern(1 << 20)));
  p.client.advance(p.client_in, p.scratch, 32 * 1024);
  CHECK(p.client.queued_plaintext() == (1 << 20) - 32 * 1024);
  CHECK(p.client.output_size() < 40 * 1024);
}

namespace {

// A connected pair of blocking loopback TCP sockets.
struct TcpPair {
  int near = -1;
  int far = -1;
  TcpPair() {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listener >= 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(listener, 1) == 0);
    socklen_t len = sizeof sa;
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
    near = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(::connect(near, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    far = ::accept(listener, nullptr, nullptr);
    REQUIRE(far >= 0);
    ::close(listener);
  }
  ~TcpPair() {
    if (near >= 0) ::close(near);
    if (far >= 0) ::close(far);
  }
  TcpPair(const TcpPair&) = delete;
  TcpPair& operator=(const TcpPair&) = delete;
  // Ends `far` with a reset (SO_LINGER 0) instead of a FIN.
  void reset_far() {
    const linger hard{1, 0};
    ::setsockopt(far, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    ::close(far);
    far = -1;
  }
  // Resets `far` and waits until `near` has seen the reset: writes to `near` now fail (EPIPE).
  void kill_near() {
    reset_far();
    char byte = 0;
    REQUIRE(::recv(near, &byte, 1, 0) <= 0);
  }
};

// OpenSSL's socket BIO writes with write(2): an EPIPE must not end the test as a signal.
struct IgnoreSigpipe {
  void (*previous)(int) = std::signal(SIGPIPE, SIG_IGN);
  ~IgnoreSigpipe() { std::signal(SIGPIPE, previous); }
  IgnoreSigpipe() = default;
  IgnoreSigpipe(const IgnoreSigpipe&) = delete;
  IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;
};

// A sink that has paused: advance() reads nothing.
struct NotAccepting final : tls::Sink {
  bool plaintext(std::span<const std::byte>) override { return true; }
  bool accepting() const override { return false; }
};

// A handshaken pair whose client writes through OpenSSL's socket BIO to a loopback TCP
// connection its peer has reset. The engine's own BIO never fails (its driver handles the
// socket); here write(2) fails with EPIPE, no retry and nothing on the error queue, which
// OpenSSL reports as SSL_ERROR_SYSCALL.
struct WritingToResetSocket {
  TestPki pki;
  EnginePair p{client_context(trusting(pki.ecdsa.ca_file)),
               server_context(serving(pki.ecdsa)),
               {"localhost", 443, 4096},
               {}};
  TcpPair tcp;
  IgnoreSigpipe quiet;

  WritingToResetSocket() {
    REQUIRE(p.handshake());
    tcp.kill_near();
    SSL_set0_wbio(p.client.native(), BIO_new_socket(tcp.near, BIO_NOCLOSE));
  }
};

}  // namespace

TEST_CASE("a write to a socket its peer reset gives SSL_ERROR_SYSCALL and a clean end") {
  // The transport was not seen to end first: a failure, not a truncation.
  WritingToResetSocket w;
  EnginePair& p = w.p;
  p.client.write(bytes("lost"));
  CHECK(p.client.advance(p.client_in, p.scratch).want == Want::closed);
  CHECK(p.client.error().ssl_error == SSL_ERROR_SYSCALL);
  CHECK(p.client.result_count(Op::write, SSL_ERROR_SYSCALL) == 1);
  CHECK(p.client.error().message() == "write: TLS protocol error: the transport failed");
  CHECK(p.client.advance(p.client_in, p.scratch).want == Want::closed);  // and stays closed
}

TEST_CASE("a TCP reset in the middle of a record gives SSL_ERROR_SYSCALL, after EOF a truncation") {
  // The engine's own BIO never fails (the transport handles the socket), so SYSCALL is
  // produced here by giving the client's SSL a real socket BIO for its input: the server's
  // record travels over loopback TCP, cut in half by a reset. OpenSSL's socket BIO read fails
  // with ECONNRESET and no retry, which OpenSSL reports as SSL_ERROR_SYSCALL.
  TestPki pki;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(serving(pki.ecdsa)),
               {"localhost", 443, 4096}, {});
  REQUIRE(p.handshake());
  p.server.write(bytes(pattern(4000, 3)));
  p.server.advance(p.server_in, p.scratch);
  const auto record = p.server.peek_output();
  REQUIRE(record.size() > 4000);
  TcpPair tcp;
  REQUIRE(::send(tcp.far, record.data(), record.size() / 2, 0) ==
          static_cast<ssize_t>(record.size() / 2));
  tcp.reset_far();
  SSL_set0_rbio(p.client.native(), BIO_new_socket(tcp.near, BIO_NOCLOSE));
  // The driver saw the transport end (as TlsTransport does on a reset) before the failing
  // read: that makes it a truncation, not a protocol error.
  p.client.feed_eof();
  CHECK(p.client.advance(p.client_in, p.scratch).want == Want::closed);
  CHECK(p.client_in.data.empty());
  CHECK(p.client.result_count(Op::read, SSL_ERROR_SYSCALL) == 1);
  CHECK(p.client.error().ssl_error == SSL_ERROR_SYSCALL);
  CHECK(p.client.error().code == tls::Errc::stream_truncated);
  CHECK(p.client.error().context == "read");
}

TEST_CASE("SSL_ERROR_SYSCALL from a write after the transport ended is a truncation") {
  // The peer reset: the read side saw the end, and the socket write fails with EPIPE. The
  // sink has paused, so the write (not a read) is the call that meets the failure.
  WritingToResetSocket w;
  EnginePair& p = w.p;
  p.client.feed_eof();
  p.client.write(bytes(pattern(100, 1)));
  NotAccepting paused;
  CHECK(p.client.advance(paused, p.scratch).want == Want::closed);
  CHECK(p.client.result_count(Op::write, SSL_ERROR_SYSCALL) == 1);
  CHECK(p.client.error().ssl_error == SSL_ERROR_SYSCALL);
  CHECK(p.client.error().code == tls::Errc::stream_truncated);
  CHECK(p.client.error().context == "write");
}

TEST_CASE("WANT_CONNECT comes only from a connect BIO, which the engine never uses") {
  // A listener with a full accept queue drops further SYNs, so a non-blocking connect stays
  // in progress and the handshake cannot start.
  const test_support::StuckListener stuck;
  TestPki pki;
  auto ctx = client_context(trusting(pki.ecdsa.ca_file));
  tls::SslPtr ssl(SSL_new(ctx->native()));
  const std::string target = "127.0.0.1:" + std::to_string(stuck.port());
  BIO* bio = BIO_new_connect(target.c_str());
  REQUIRE(bio != nullptr);
  BIO_set_nbio(bio, 1);
  SSL_set_bio(ssl.get(), bio, bio);
  SSL_set_connect_state(ssl.get());
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl.get());
  CHECK(SSL_get_error(ssl.get(), ret) == SSL_ERROR_WANT_CONNECT);
  ERR_clear_error();
}

TEST_CASE("WANT_ACCEPT comes only from an accept BIO, which the engine never uses") {
  TestPki pki;
  auto ctx = server_context(serving(pki.ecdsa));
  tls::SslPtr ssl(SSL_new(ctx->native()));
  BIO* bio = BIO_new_accept("127.0.0.1:0");
  REQUIRE(bio != nullptr);
  BIO_set_nbio_accept(bio, 1);
  REQUIRE(BIO_do_accept(bio) == 1);  // the first call only binds and listens
  SSL_set_bio(ssl.get(), bio, bio);
  SSL_set_accept_state(ssl.get());
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl.get());  // nobody connects: accept() would block
  CHECK(SSL_get_error(ssl.get(), ret) == SSL_ERROR_WANT_ACCEPT);
  ERR_clear_error();
}

TEST_CASE("an IP-literal host sends no SNI and is verified against the certificate's IP address") {
  TestPki pki;
  auto client_ctx = client_context(trusting(pki.ecdsa.ca_file));
  auto server_ctx = server_context(serving(pki.ecdsa));
  EnginePair v4(client_ctx, server_ctx, {"127.0.0.1", 443, 0});
  REQUIRE(v4.handshake());
  CHECK(v4.server.info().server_name.empty());
  EnginePair v6(client_ctx, server_ctx, {"::1", 443, 0});
  REQUIRE(v6.handshake());
  CHECK(v6.server.info().server_name.empty());
  EnginePair wrong(client_ctx, server_ctx, {"127.0.0.2", 443, 0});  // not in the certificate
  wrong.pump();
  CHECK(wrong.client.error().message() ==
        "handshake: certificate verify failed: IP address mismatch");
}

TEST_CASE(
    "an impossible result met anyway (WANT_CONNECT from a connect BIO) becomes an internal error, not a hang") {
  // Produce the result for real inside an Engine by giving its SSL a connect BIO towards a
  // listener whose full accept queue drops the SYN: the handshake cannot start.
  const test_support::StuckListener stuck;
  TestPki pki;
  tls::Engine engine(client_context(trusting(pki.ecdsa.ca_file)), {"localhost", 443, 0});
  const std::string target = "127.0.0.1:" + std::to_string(stuck.port());
  BIO* bio = BIO_new_connect(target.c_str());
  REQUIRE(bio != nullptr);
  BIO_set_nbio(bio, 1);
  SSL_set_bio(engine.native(), bio, bio);  // the engine's memory BIOs are freed here
  Collect sink;
  std::vector<std::byte> scratch(1024);
  CHECK(engine.advance(sink, scratch).want == Want::closed);
  CHECK(engine.result_count(Op::handshake, SSL_ERROR_WANT_CONNECT) == 1);
  CHECK(engine.error().code == tls::Errc::internal);
  CHECK(engine.error().message() ==
        "handshake: internal TLS error: SSL_ERROR_WANT_CONNECT cannot happen over memory BIOs");
  CHECK(engine.advance(sink, scratch).want == Want::closed);  // and it stays closed: no retry loop
}

TEST_CASE(
    "KeyUpdates requested in a loop by a client that never reads: the 11th in a minute fails") {
  TestPki pki;
  auto sc = serving(pki.ecdsa);
  sc.peer_limits.key_updates_per_minute = 10;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(sc));
  REQUIRE(p.handshake());
  int sent = 0;
  std::size_t server_output = 0;
  for (; sent < 1000 && !p.server.is_closed(); ++sent) {
    REQUIRE_FALSE(p.client.key_update(true));  // asks for the server's KeyUpdate each time
    p.client.advance(p.client_in, p.scratch);
    p.flush(p.client, p.server);
    p.server.advance(p.server_in, p.scratch);  // answers into its output, which nobody reads
    server_output = p.server.output_size();
  }
  CHECK(sent == 11);
  CHECK(p.server.peer_key_updates() == 11);
  CHECK(p.server.error().code == tls::Errc::key_update_limit);
  CHECK(p.server.error().message() ==
        "read: too many KeyUpdates from the peer: more than 10 KeyUpdates in a minute");
  // Ten answers of a few dozen bytes each, not one per request for as long as they come.
  CHECK_MESSAGE(server_output < 1024, "server output " << server_output);
}

TEST_CASE("client renegotiations past the per-minute limit fail the connection") {
  TestPki pki;
  auto sc = serving(pki.ecdsa);
  sc.max_version = TLS1_2_VERSION;
  sc.allow_client_renegotiation = true;
  sc.peer_limits.renegotiations_per_minute = 3;
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(sc));
  REQUIRE(p.handshake());
  int done = 0;
  for (; done < 10 && !p.server.is_closed(); ++done) {
    REQUIRE_FALSE(p.client.renegotiate());
    p.client.write(bytes("x"));
    p.pump();
  }
  CHECK(done == 4);
  CHECK(p.server_in.data == "xxx");  // three renegotiations served, the fourth refused
  CHECK(p.server.peer_renegotiations() == 4);
  CHECK(p.server.error().code == tls::Errc::renegotiation_limit);
  CHECK(SSL_num_renegotiations(p.client.native()) == 4);
}

TEST_CASE("peer limits of 0 mean no limit") {
  TestPki pki;
  auto sc = serving(pki.ecdsa);
  sc.peer_limits = {0, 0};
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(sc));
  REQUIRE(p.handshake());
  for (int i = 0; i < 30; ++i) {
    REQUIRE_FALSE(p.client.key_update(false));
    p.pump();
  }
  p.client.write(bytes("still here"));
  p.pump();
  CHECK(p.server_in.data == "still here");
  CHECK_FALSE(p.server.error());
}
