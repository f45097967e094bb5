#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <thread>

#include "reactor/TcpConnector.hpp"
#include "reactor/Timer.hpp"
#include "reactor/TurnTicket.hpp"
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

// Ends a test that runs its own loop: the watchdog and the listener go, the loop runs what
// their closing leaves, and nothing may be left open.
void wind_down(reactor::Loop& loop, std::optional<test_support::Watchdog>& dog,
               reactor::TcpListener& listener) {
  dog.reset();
  listener.close();
  loop.run();
  CHECK(loop.close() == 0);
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

TEST_CASE("request_drain over TLS: one on_drain once plaintext and ciphertext held fall to it") {
  test_support::TestPki pki;
  TlsPair p(pki);
  const std::string payload = test_support::pattern(8 << 20);
  bool below_high = false;
  std::size_t held_at_drain = SIZE_MAX;
  p.script_server = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      // Water marks far above the payload: write() keeps saying yes, so only the request calls.
      c.set_write_limits({64 << 20, 32 << 20});
      below_high = c.write(payload);
      c.request_drain(16 * 1024);
    };
    h.drain = [&](reactor::Connection& c) {
      held_at_drain = c.stats().queued_bytes;
      c.close();
    };
  };
  p.run();
  CHECK(below_high);
  CHECK(p.server->drains == 1);
  CHECK(held_at_drain <= 16 * 1024);
  CHECK(p.client->data == payload);
  CHECK(p.close() == 0);
}

TEST_CASE("a TLS writer that ignores write() returning false is aborted at max_buffered") {
  test_support::TestPki pki;
  TlsPair p(pki);
  constexpr std::size_t cap = 1 << 20;
  constexpr std::size_t step = 64 * 1024;
  p.server_transport.max_buffered = cap;
  test_support::IgnoredBackpressure writer(p, step);
  p.run();
  CHECK(p.server->error.code() == reactor::Errc::write_queue_full);
  CHECK(writer.writes < 4096);
  // Plaintext and ciphertext together: the cap, one write, and the records being encrypted.
  CHECK_MESSAGE(writer.peak <= cap + step + tls::Engine::max_record + 1024,
                "peak buffered " << writer.peak);
  CHECK(p.client->error);
  CHECK(p.close() == 0);
}

TEST_CASE("a flooding TLS peer yields the loop after max_plaintext_per_turn, others are served") {
  test_support::TestPki pki;
  TlsPair tls_contexts(pki);
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 60s);
  constexpr std::size_t per_turn = 64 * 1024;
  // The loop's turns, counted by a task that posts itself again each time it runs.
  std::uint64_t turn = 0;
  bool counting = true;
  std::function<void()> tick = [&] {
    ++turn;
    if (counting) loop.post(tick);
  };
  loop.post(tick);
  // The server echoes; per connection it notes the most plaintext it was handed in one turn.
  std::size_t most_in_a_turn = 0;
  auto server_factory = [&] {
    auto h = std::make_unique<Recorder>(std::make_shared<test_support::Record>());
    echo(*h);
    auto echo_data = h->data;
    h->data = [&, echo_data, last = std::uint64_t{0}, got = std::size_t{0}](
                  reactor::Connection& c, std::span<const std::byte> d) mutable {
      if (turn != last) {
        last = turn;
        got = 0;
      }
      got += d.size();
      most_in_a_turn = std::max(most_in_a_turn, got);
      echo_data(c, d);
    };
    return h;
  };
  tls::TransportOptions transport;
  transport.max_plaintext_per_turn = per_turn;
  reactor::TcpListener listener(
      loop, tls::server_factory(tls_contexts.server_tls, server_factory, transport));
  REQUIRE_FALSE(listener.listen(*reactor::Address::from_ip("127.0.0.1", 0)));
  const reactor::HostPort target{"localhost", listener.local_address().port()};

  // The flood: 32 MiB as fast as the server takes it, its echo read back.
  const std::string payload = test_support::pattern(32 << 20);
  std::size_t sent = 0;
  auto flood = std::make_shared<test_support::Record>();
  auto pinger = std::make_shared<test_support::Record>();
  int round_trips = 0;
  bool pinger_started = false;
  std::size_t flood_back_at_last_trip = 0;
  const auto maybe_stop = [&] {
    if (flood->closed && pinger->closed) {
      counting = false;
      loop.stop();
    }
  };
  auto flood_client = std::make_unique<Recorder>(flood);
  std::function<void(reactor::Connection&)> pump = [&](reactor::Connection& c) {
    while (sent < payload.size()) {
      const auto n = std::min<std::size_t>(256 * 1024, payload.size() - sent);
      const bool more = c.write(std::string_view(payload).substr(sent, n));
      sent += n;
      if (!more) return;
    }
  };
  flood_client->open = pump;
  flood_client->drain = pump;
  flood_client->data = [&](reactor::Connection& c, std::span<const std::byte>) {
    if (!pinger_started && flood->data.size() > (1 << 20)) {
      // A second connection on the same loop, doing echo round trips while the flood goes on.
      pinger_started = true;
      auto ping = std::make_unique<Recorder>(pinger);
      ping->open = [](reactor::Connection& pc) { pc.write("ping"); };
      ping->data = [&](reactor::Connection& pc, std::span<const std::byte>) {
        if (pinger->data.size() != 4 * static_cast<std::size_t>(round_trips + 1)) return;
        ++round_trips;
        flood_back_at_last_trip = flood->data.size();
        if (round_trips < 20)
          pc.write("ping");
        else
          pc.close();
      };
      ping->closed = [&](reactor::Connection&, const reactor::Error&) { maybe_stop(); };
      tls::connect(loop, target, tls_contexts.client_tls, std::move(ping));
    }
    if (flood->data.size() == payload.size()) c.close();
  };
  flood_client->closed = [&](reactor::Connection&, const reactor::Error&) { maybe_stop(); };
  tls::connect(loop, target, tls_contexts.client_tls, std::move(flood_client));
  loop.run();
  CHECK(round_trips == 20);
  CHECK(flood->data == payload);
  CHECK_MESSAGE(flood_back_at_last_trip < payload.size(), "the pinger finished after the flood");
  // Between two turns of the loop (which may cover parts of two of its iterations): at most
  // twice the budget and the record that crossed it.
  CHECK_MESSAGE(most_in_a_turn <= 2 * (per_turn + tls::Engine::max_record),
                "most plaintext in one turn: " << most_in_a_turn);
  wind_down(loop, dog, listener);
}

TEST_CASE("a peer that never answers our close_notify is closed after the bye timeout") {
  test_support::TestPki pki;
  TlsPair p(pki);
  p.server_transport.bye_timeout = 200ms;
  p.listen_options.connection.close_timeout = 200ms;
  p.script_server = [&](Recorder& h) {
    h.open = [](reactor::Connection& c) { c.close(); };
    h.closed = [&](reactor::Connection&, const reactor::Error&) {
      if (p.client->conn != nullptr) p.client->conn->abort();  // done: let the test end
    };
  };
  // The client sees the close_notify and the FIN but answers neither, and keeps its socket.
  p.script_client = [](Recorder& h) { h.peer_closed = [](reactor::Connection&) {}; };
  p.run();  // without the bye timeout nothing would end the server's side (the watchdog would)
  CHECK(p.server->closed);
  CHECK(p.client->peer_closed);
  // The bye wait ended in a TCP close, whose own bound (no FIN from the peer) reset it.
  CHECK(p.server->error.code() == reactor::Errc::close_timeout);
  CHECK(p.close() == 0);
}

namespace {

// Echo handlers that count the server side's connections and how they ended.
struct ServerTally {
  int started = 0;  // accepted (handshaking)
  int opened = 0;   // handshake done
  int closed = 0;
  int failed = 0;  // closed with an error
  int timed_out = 0;
  reactor::HandlerFactory factory() {
    return [this] {
      ++started;
      auto h = std::make_unique<Recorder>(std::make_shared<test_support::Record>());
      echo(*h);
      h->open = [this](reactor::Connection&) { ++opened; };
      h->closed = [this](reactor::Connection&, const reactor::Error& e) {
        ++closed;
        if (e) ++failed;
        if (e.code() == tls::Errc::handshake_timeout) ++timed_out;
      };
      return h;
    };
  }
};

tls::TransportOptions one_handshake_step_per_turn() {
  tls::TransportOptions options;
  options.handshakes_per_turn = 1;
  return options;
}

}  // namespace

TEST_CASE(
    "with one handshake step per loop turn, 200 simultaneous handshakes all complete and an "
    "established connection keeps being served") {
  test_support::TestPki pki;
  TlsPair contexts(pki);
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 60s);
  ServerTally server;
  reactor::TcpListener listener(loop, tls::server_factory(contexts.server_tls, server.factory(),
                                                          one_handshake_step_per_turn()));
  REQUIRE_FALSE(listener.listen(*reactor::Address::from_ip("127.0.0.1", 0)));
  const reactor::HostPort target{"localhost", listener.local_address().port()};
  tls::TransportOptions client_transport;
  client_transport.handshakes_per_turn = 0;  // only the server's steps are rationed

  constexpr int burst = 200;
  int burst_echoed = 0;
  int burst_closed = 0;
  int trips_during_burst = 0;
  auto pinger = std::make_shared<test_support::Record>();
  const auto maybe_stop = [&] {
    if (burst_closed == burst && pinger->closed) loop.stop();
  };
  const auto start_burst = [&] {
    for (int i = 0; i < burst; ++i) {
      auto h = std::make_unique<Recorder>(std::make_shared<test_support::Record>());
      h->open = [](reactor::Connection& c) { c.write("hello"); };
      h->data = [&](reactor::Connection& c, std::span<const std::byte>) {
        ++burst_echoed;
        c.close();
      };
      h->closed = [&](reactor::Connection&, const reactor::Error& e) {
        CHECK_MESSAGE(!e, e.message());
        ++burst_closed;
        maybe_stop();
      };
      tls::connect(loop, target, contexts.client_tls, std::move(h), {}, client_transport);
    }
  };
  // The established connection: one-byte round trips for as long as the burst lasts.
  auto ping = std::make_unique<Recorder>(pinger);
  ping->open = [&](reactor::Connection& c) {
    start_burst();
    c.write("p");
  };
  ping->data = [&](reactor::Connection& c, std::span<const std::byte>) {
    if (burst_echoed < burst) {
      ++trips_during_burst;
      c.write("p");
    } else {
      c.close();
    }
  };
  ping->closed = [&](reactor::Connection&, const reactor::Error&) { maybe_stop(); };
  tls::connect(loop, target, contexts.client_tls, std::move(ping), {}, client_transport);
  loop.run();

  CHECK(burst_echoed == burst);
  CHECK(burst_closed == burst);
  CHECK(server.opened == burst + 1);
  // Handshake steps really waited for later turns...
  CHECK(reactor::TurnTicket::waited(loop) > 0);
  // ... and the established connection was served in between: each server turn admits one
  // step and a full handshake takes two, so the burst lasts at least 2 x 200 turns, while a
  // round trip takes a few. Without admission the burst is done in a handful of turns.
  CHECK_MESSAGE(trips_during_burst >= 20, "round trips during the burst: " << trips_during_burst);
  CHECK_MESSAGE(!pinger->error, pinger->error.message());
  wind_down(loop, dog, listener);
  CHECK(server.closed == server.opened);
}

namespace {

class NullSink final : public tls::Sink {
 public:
  bool plaintext(std::span<const std::byte>) override { return true; }
};

// A real ClientHello, made by a client Engine that never sees an answer.
std::string client_hello(const std::shared_ptr<const tls::Context>& client_tls) {
  tls::Engine engine(client_tls, {"localhost", 443});
  NullSink sink;
  std::vector<std::byte> scratch(tls::Engine::max_record);
  engine.advance(sink, scratch);
  const auto out = engine.peek_output();
  return {reinterpret_cast<const char*>(out.data()), out.size()};
}

}  // namespace

TEST_CASE(
    "handshakes waiting for their loop turn whose peers close (FIN) or reset meanwhile are all "
    "cleaned up") {
  test_support::TestPki pki;
  TlsPair contexts(pki);
  const std::string hello = client_hello(contexts.client_tls);
  REQUIRE(hello.size() > 100);
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 60s);
  ServerTally server;
  reactor::TcpListener listener(loop, tls::server_factory(contexts.server_tls, server.factory(),
                                                          one_handshake_step_per_turn()));
  REQUIRE_FALSE(listener.listen(*reactor::Address::from_ip("127.0.0.1", 0)));
  const reactor::HostPort target{"127.0.0.1", listener.local_address().port()};

  // Plain TCP clients: each sends a ClientHello, then at once a FIN (half of them) or a reset.
  constexpr int clients = 100;
  int clients_ended = 0;
  for (int i = 0; i < clients; ++i) {
    auto h = std::make_unique<Recorder>(std::make_shared<test_support::Record>());
    h->open = [&hello, fin = i % 2 == 0](reactor::Connection& c) {
      c.write(hello);
      if (fin)
        c.shutdown();
      else
        c.abort();
    };
    h->peer_closed = [](reactor::Connection& c) { c.close(); };
    h->closed = [&](reactor::Connection&, const reactor::Error&) { ++clients_ended; };
    reactor::TcpConnector(loop).connect(target, std::move(h));
  }
  reactor::Timer check(loop);
  check.start(20ms, 20ms, [&] {
    if (clients_ended == clients && server.closed == server.started && loop.connection_count() == 0)
      loop.stop();
  });
  loop.run();
  CHECK(clients_ended == clients);
  CHECK(server.started > 0);
  CHECK(server.closed == server.started);
  CHECK(server.failed == server.closed);  // no handshake finished
  CHECK(server.opened == 0);
  CHECK(loop.connection_count() == 0);
  // Most ClientHellos arrived while the single step of their turn was taken.
  CHECK(reactor::TurnTicket::waited(loop) > 0);
  check.stop();
  wind_down(loop, dog, listener);
}

TEST_CASE("a handshake waiting for its loop turn still ends at its handshake timeout") {
  test_support::TestPki pki;
  TlsPair contexts(pki);
  const std::string hello = client_hello(contexts.client_tls);
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 60s);
  ServerTally server;
  tls::TransportOptions transport = one_handshake_step_per_turn();
  transport.handshake_timeout = 100ms;
  reactor::TcpListener listener(
      loop, tls::server_factory(contexts.server_tls, server.factory(), transport));
  REQUIRE_FALSE(listener.listen(*reactor::Address::from_ip("127.0.0.1", 0)));
  const reactor::HostPort target{"127.0.0.1", listener.local_address().port()};

  // Plain TCP clients that, once all are connected, send a ClientHello each at once (so the
  // server reads them in one turn) and then wait, never finishing a handshake.
  constexpr int clients = 50;
  int clients_ended = 0;
  int never_answered = 0;  // closed by the server before it sent a byte: still waiting
  std::vector<reactor::Connection*> connected;
  for (int i = 0; i < clients; ++i) {
    auto record = std::make_shared<test_support::Record>();
    auto h = std::make_unique<Recorder>(record);
    h->open = [&](reactor::Connection& c) {
      connected.push_back(&c);
      if (connected.size() < clients) return;
      for (reactor::Connection* each : connected) each->write(hello);
    };
    h->closed = [&, record](reactor::Connection&, const reactor::Error&) {
      ++clients_ended;
      if (record->data.empty()) ++never_answered;
    };
    reactor::TcpConnector(loop).connect(target, std::move(h));
  }
  // Once most ClientHellos wait, the loop is held up longer than the handshake timeout (as a
  // slow handler would): their deadlines pass while they are still in the queue.
  bool stalled = false;
  reactor::Timer stall(loop);
  stall.start(1ms, 1ms, [&] {
    if (stalled || reactor::TurnTicket::waited(loop) < clients / 2) return;
    stalled = true;
    std::this_thread::sleep_for(300ms);
  });
  reactor::Timer check(loop);
  check.start(20ms, 20ms, [&] {
    if (clients_ended == clients && server.closed == server.started && loop.connection_count() == 0)
      loop.stop();
  });
  loop.run();
  CHECK(stalled);
  CHECK(clients_ended == clients);
  CHECK(server.started == clients);
  CHECK(server.closed == server.started);
  CHECK(server.timed_out == clients);  // nobody sent a Finished
  CHECK_MESSAGE(never_answered > 0, "no connection timed out while waiting for its turn");
  stall.stop();
  check.stop();
  wind_down(loop, dog, listener);
}

namespace {

// The server side's engine, from the connection its handler was given.
const tls::Engine& server_engine(const test_support::Pair& p) {
  REQUIRE(p.server->conn != nullptr);
  return dynamic_cast<tls::TlsTransport&>(*p.server->conn).engine();
}

// Calls `then` on the loop once `ready` holds, looking every 10 ms (bounded by the watchdog).
void when(reactor::Loop& loop, std::optional<reactor::Timer>& poll, std::function<bool()> ready,
          std::function<void()> then) {
  poll.emplace(loop);
  poll->start(10ms, 10ms, [&poll, ready = std::move(ready), then = std::move(then)] {
    if (!ready()) return;
    poll->stop();
    then();
  });
}

}  // namespace

TEST_CASE("a quiet connection gives its OpenSSL buffers back and then serves the next message") {
  test_support::TestPki pki;
  TlsPair p(pki);
  p.server_transport.release_buffers_after = 50ms;
  std::optional<reactor::Timer> poll;
  std::uint32_t released_before_second = 0;
  p.script_server = echo;
  p.script_client = [&](Recorder& h) {
    h.open = [](reactor::Connection& c) { c.write("first"); };
    h.data = [&](reactor::Connection& c, std::span<const std::byte>) {
      if (p.client->data == "first") {
        when(
            p.loop, poll, [&] { return server_engine(p).buffer_releases() > 0; },
            [&] {
              released_before_second = server_engine(p).buffer_releases();
              c.write("second");
            });
      } else if (p.client->data == "firstsecond") {
        c.close();
      }
    };
  };
  p.run();
  CHECK(released_before_second >= 1);
  CHECK(p.server->data == "firstsecond");
  CHECK(p.client->data == "firstsecond");
  CHECK_MESSAGE(!p.server->error, p.server->error.message());
  CHECK_MESSAGE(!p.client->error, p.client->error.message());
  poll.reset();
  CHECK(p.close() == 0);
}

TEST_CASE("half a record waiting on a quiet connection keeps its buffers and arrives whole") {
  test_support::TestPki pki;
  TlsPair p(pki);
  p.server_transport.release_buffers_after = 50ms;
  // The client speaks TLS through an engine of its own over plain TCP, so that it can send a
  // record in two parts with a pause between.
  tls::Engine client(p.client_tls, {"localhost", 0, 0});
  p.client_tls.reset();
  struct Collect final : tls::Sink {
    std::string data;
    bool plaintext(std::span<const std::byte> d) override {
      data.append(reinterpret_cast<const char*>(d.data()), d.size());
      return true;
    }
  } echoed;
  std::vector<std::byte> scratch(tls::Engine::max_record);
  std::vector<std::byte> rest;  // the record's second part, held back
  bool sent = false;
  std::optional<reactor::Timer> poll;
  const std::string message = "a message cut in the middle of its record";
  const auto flush = [&](reactor::Connection& c) {
    client.advance(echoed, scratch);
    while (!client.peek_output().empty()) {
      c.write(client.peek_output());
      client.consume_output(client.peek_output().size());
    }
  };
  p.script_server = echo;
  p.script_client = [&](Recorder& h) {
    h.open = flush;
    h.data = [&](reactor::Connection& c, std::span<const std::byte> d) {
      client.feed(d);
      flush(c);
      if (echoed.data == message && !client.close_notify_sent()) {
        client.close();  // close_notify; the server answers with its own and a FIN
        return flush(c);
      }
      if (!client.is_handshake_done() || sent) return;
      sent = true;
      client.write(std::as_bytes(std::span(message.data(), message.size())));
      client.advance(echoed, scratch);
      const auto out = client.peek_output();
      rest.assign(out.begin() + static_cast<std::ptrdiff_t>(out.size() / 2), out.end());
      c.write(out.first(out.size() / 2));
      client.consume_output(out.size());
      // The sweep finds the first part inside OpenSSL's read buffer and must leave it there.
      when(
          p.loop, poll,
          [&] {
            return p.server->conn != nullptr && server_engine(p).buffer_release_refusals() > 0;
          },
          [&] { c.write(rest); });
    };
  };
  p.run();
  CHECK(sent);
  CHECK(p.server->data == message);
  CHECK(echoed.data == message);
  CHECK(p.server->peer_closed);
  CHECK_MESSAGE(!p.server->error, p.server->error.message());
  poll.reset();
  CHECK(p.close() == 0);
}

TEST_CASE(
    "a connection gives its buffers back after each exchange until a second one shows it busy") {
  test_support::TestPki pki;
  TlsPair p(pki);
  p.server_transport.release_buffers_after = 60s;  // the quiet sweep stays out of this test
  std::vector<std::uint32_t> releases;             // the server's count as each echo arrives
  p.script_server = echo;
  p.script_client = [&](Recorder& h) {
    h.open = [](reactor::Connection& c) { c.write("1"); };
    // Both ends share the loop: the server's drive, which ends in the release, is over before
    // the client reads the echo.
    h.data = [&](reactor::Connection& c, std::span<const std::byte>) {
      releases.push_back(server_engine(p).buffer_releases());
      if (releases.size() < 3)
        c.write(std::to_string(releases.size() + 1));
      else
        c.close();
    };
  };
  p.run();
  REQUIRE(releases.size() == 3);
  // The first exchange gave the buffers back (so may the handshake's end, unless the first
  // record came in the same read); the second record within the quiet period marks the
  // connection busy, and it keeps them from then on.
  CHECK(releases[0] >= 1);
  CHECK(releases[1] == releases[0]);
  CHECK(releases[2] == releases[0]);
  CHECK(p.client->data == "123");
  CHECK_MESSAGE(!p.server->error, p.server->error.message());
  CHECK(p.close() == 0);
}

TEST_CASE(
    "a handler that throws from on_data inside its own resume_reading, called from a timer, is "
    "aborted with handler_failed and its peer sees the reset") {
  test_support::TestPki pki;
  TlsPair p(pki);
  reactor::Timer resume(p.loop);
  bool buffered_at_resume = false;
  p.script_client = [](Recorder& h) {
    h.open = [](reactor::Connection& c) {
      // Two records in one flush: the server reads both at once and takes the first.
      c.write("first");
      c.write("second");
    };
  };
  p.script_server = [&](Recorder& h) {
    h.data = [&](reactor::Connection& c, std::span<const std::byte>) {
      if (p.server->data == "first") {
        c.pause_reading();  // "second" stays in the engine
        resume.start(10ms, 0ms, [&c, &buffered_at_resume] {
          buffered_at_resume = dynamic_cast<tls::TlsTransport&>(c).engine().has_buffered_input();
          c.resume_reading();  // delivers "second" from inside this call, out of a drive
        });
        return;
      }
      throw std::runtime_error("no second record wanted");
    };
  };
  p.run();
  CHECK(buffered_at_resume);  // the drive that threw was the application's, not the socket's
  CHECK(p.server->data == "firstsecond");
  CHECK(p.server->error.code() == reactor::Errc::handler_failed);
  CHECK(p.server->error.message() == "no second record wanted: the handler threw an exception");
  CHECK((p.client->error.code() == std::errc::connection_reset));
  CHECK(p.close() == 0);
}

TEST_CASE("a TLS connection costs its loop one libuv handle, its socket, mid-handshake and open") {
  test_support::TestPki pki;
  TlsPair contexts(pki);
  reactor::Loop loop;
  // A hang guard that does not depend on run() (the phases below turn the loop one by one).
  bool gave_up = false;
  reactor::Timer guard(loop);
  guard.start(60s, 0ms, [&] { gave_up = true; });
  const auto run_until = [&](const std::function<bool()>& done) {
    while (!done() && !gave_up) loop.run_once(true);
    REQUIRE_FALSE(gave_up);
  };
  // The server holds each handshake at its certificate choice (deadlines armed, nothing sent
  // back) until the test answers.
  std::vector<tls::CertificateChoice> held;
  tls::ServerConfig sc;
  sc.certificates = {pki.ecdsa.leaf};
  sc.on_certificate = [&](const tls::CertificateRequest&, tls::CertificateChoice choice) {
    held.push_back(std::move(choice));
  };
  std::vector<std::shared_ptr<test_support::Record>> servers, clients;
  int closed = 0;
  const auto recorder = [&](std::vector<std::shared_ptr<test_support::Record>>& side) {
    side.push_back(std::make_shared<test_support::Record>());
    auto h = std::make_unique<Recorder>(side.back());
    h->closed = [&](reactor::Connection&, const reactor::Error&) { ++closed; };
    return h;
  };
  std::optional<reactor::TcpListener> listener(
      std::in_place, loop,
      tls::server_factory(test_support::server_context(sc), [&] { return recorder(servers); }));
  REQUIRE_FALSE(listener->listen(*reactor::Address::from_ip("127.0.0.1", 0)));
  const reactor::HostPort target{"localhost", listener->local_address().port()};
  const auto connect = [&](std::size_t count) {
    for (std::size_t i = 0; i < count; ++i)
      tls::connect(loop, target, contexts.client_tls, recorder(clients));
  };
  const auto opened = [](const std::vector<std::shared_ptr<test_support::Record>>& side) {
    return std::count_if(side.begin(), side.end(), [](const auto& r) { return r->opened; });
  };
  constexpr std::size_t n = 8;

  connect(n);
  run_until([&] { return held.size() == n; });
  const std::size_t handshaking_n = loop.handle_count();
  connect(n);
  run_until([&] { return held.size() == 2 * n; });
  const std::size_t handshaking_2n = loop.handle_count();
  // Each pair is a client and a server connection on this loop: one TCP handle each, and no
  // timer for the handshake deadline.
  CHECK(handshaking_2n - handshaking_n == 2 * n);

  for (const auto& choice : held) choice.decline();  // the configured certificate
  run_until([&] { return opened(clients) == 2 * n && opened(servers) == 2 * n; });
  const std::size_t open_2n = loop.handle_count();
  for (std::size_t i = 0; i < n; ++i) clients[i]->conn->close();
  run_until([&] { return closed == static_cast<int>(2 * n); });
  const std::size_t open_n = loop.handle_count();
  CHECK(open_2n - open_n == 2 * n);
  CHECK(closed == static_cast<int>(2 * n));  // every bye was answered: none waits on a deadline

  for (std::size_t i = n; i < 2 * n; ++i) clients[i]->conn->close();
  run_until([&] { return closed == static_cast<int>(4 * n); });
  guard.stop();
  listener.reset();
  loop.run();
  CHECK(loop.close() == 0);
}
