#include <doctest/doctest.h>

#include <sys/resource.h>

#include <optional>

#include "reactor/Timer.hpp"
#include "tests/support/Pair.hpp"
#include "tests/support/SocketOf.hpp"

using namespace std::chrono_literals;
using test_support::Pair;
using test_support::Recorder;

TEST_CASE("a half-close exchange ends cleanly on both sides") {
  Pair p;
  p.script_client = [](Recorder& h) {
    h.open = [](reactor::Connection& c) {
      c.write("hello");
      c.shutdown();
    };
  };
  p.script_server = [](Recorder& h) {
    h.data = [](reactor::Connection& c, std::span<const std::byte> d) { c.write(d); };
  };
  p.run();
  CHECK(p.server->data == "hello");
  CHECK(p.client->data == "hello");
  CHECK(p.server->peer_closed);
  CHECK(p.client->peer_closed);
  CHECK_MESSAGE(!p.server->error, p.server->error.message());
  CHECK_MESSAGE(!p.client->error, p.client->error.message());
  CHECK(p.close() == 0);
}

TEST_CASE("abort resets the connection and the peer reads 'connection reset by peer'") {
  Pair p;
  // Abort only once the client has surely seen its connect complete (it has written).
  p.script_client = [](Recorder& h) { h.open = [](reactor::Connection& c) { c.write("x"); }; };
  p.script_server = [](Recorder& h) {
    h.data = [](reactor::Connection& c, std::span<const std::byte>) { c.abort(); };
  };
  p.run();
  CHECK(p.server->error.code() == reactor::Errc::aborted);
  CHECK((p.client->error.code() == std::errc::connection_reset));
  CHECK(p.client->error.message() == "read: connection reset by peer");
  CHECK(p.close() == 0);
}

TEST_CASE("close flushes every queued byte before the FIN") {
  Pair p;
  const std::string payload = test_support::pattern(8 << 20);
  bool accepted_at_once = true;
  p.script_server = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      accepted_at_once = c.write(payload);
      c.close();
    };
  };
  p.run();
  CHECK_FALSE(accepted_at_once);  // 8 MiB does not fit in the socket: most of it was queued
  CHECK(p.client->data.size() == payload.size());
  CHECK(p.client->data == payload);
  CHECK(p.server->stats_at_close.bytes_written == payload.size());
  CHECK(p.server->stats_at_close.queued_bytes == 0);
  CHECK_MESSAGE(!p.server->error, p.server->error.message());
  CHECK(p.close() == 0);
}

TEST_CASE("write reports the high-water mark and on_drain fires once the queue falls to low") {
  Pair p;
  p.listen_options.connection.limits = {64 * 1024, 16 * 1024};
  const std::string payload = test_support::pattern(32 << 20);
  bool below_high = true;
  std::size_t queued_after_write = 0;
  reactor::Timer resume(p.loop);
  p.script_server = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      below_high = c.write(payload);
      queued_after_write = c.stats().queued_bytes;
    };
    h.drain = [](reactor::Connection& c) {
      CHECK(c.stats().queued_bytes <= 16 * 1024);
      c.close();
    };
  };
  p.script_client = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      c.pause_reading();
      resume.start(200ms, 0ms, [&c] { c.resume_reading(); });
    };
  };
  p.run();
  CHECK_FALSE(below_high);
  CHECK(queued_after_write > 64 * 1024);
  CHECK(p.server->drains == 1);
  CHECK(p.client->data == payload);
  CHECK(p.close() == 0);
}

TEST_CASE(
    "request_drain: one on_drain once the queue falls to the size asked, write() never refused") {
  Pair p;
  // Water marks far above the payload: write() keeps saying yes, so only the request can call.
  p.listen_options.connection.limits = {64 << 20, 32 << 20};
  const std::string payload = test_support::pattern(8 << 20);
  bool below_high = false;
  std::size_t queued_at_request = 0;
  std::size_t queued_at_drain = SIZE_MAX;
  p.script_server = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      below_high = c.write(payload);
      queued_at_request = c.stats().queued_bytes;
      c.request_drain(16 * 1024);
    };
    h.drain = [&](reactor::Connection& c) {
      queued_at_drain = c.stats().queued_bytes;
      c.close();
    };
  };
  p.run();
  CHECK(below_high);
  CHECK(queued_at_request > 16 * 1024);  // 8 MiB does not fit in the socket at once
  CHECK(p.server->drains == 1);
  CHECK(queued_at_drain <= 16 * 1024);
  CHECK(p.client->data == payload);
  CHECK(p.close() == 0);
}

TEST_CASE("pause_reading holds data back until resume_reading") {
  Pair p;
  reactor::Timer later(p.loop);
  std::size_t seen_while_paused = 1;
  p.script_server = [](Recorder& h) {
    h.open = [](reactor::Connection& c) {
      c.write("abc");
      c.shutdown();
    };
  };
  p.script_client = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      c.pause_reading();
      later.start(300ms, 0ms, [&] {
        seen_while_paused = p.client->data.size();
        c.resume_reading();
      });
    };
  };
  p.run();
  CHECK(seen_while_paused == 0);
  CHECK(p.client->data == "abc");
  CHECK(p.close() == 0);
}

TEST_CASE("a graceful close towards a peer that never reads ends at the close timeout") {
  Pair p;
  p.listen_options.connection.close_timeout = 300ms;
  const std::string payload = test_support::pattern(32 << 20);
  std::uint64_t closed_after = 0;
  std::uint64_t close_started = 0;
  p.script_server = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      c.write(payload);
      close_started = p.loop.now();
      c.close();
    };
    h.closed = [&](reactor::Connection&, const reactor::Error&) {
      closed_after = p.loop.now() - close_started;
      if (p.client->conn != nullptr) p.client->conn->abort();
    };
  };
  p.script_client = [](Recorder& h) { h.open = [](reactor::Connection& c) { c.pause_reading(); }; };
  p.run();
  // The close deadline ended it (a stuck close would end at the watchdog, with another
  // error), and not before its time: the deadline is kept on this same loop clock.
  CHECK(p.server->error.code() == reactor::Errc::close_timeout);
  CHECK(closed_after >= 300);
  CHECK(p.close() == 0);
}

TEST_CASE("an idle connection is closed with idle_timeout and the peer sees a clean EOF") {
  Pair p;
  p.listen_options.connection.idle_timeout = 200ms;
  p.run();
  CHECK(p.server->error.code() == reactor::Errc::idle_timeout);
  CHECK(p.client->peer_closed);
  CHECK_MESSAGE(!p.client->error, p.client->error.message());
  CHECK(p.close() == 0);
}

TEST_CASE("traffic keeps resetting the idle timeout") {
  Pair p;
  p.listen_options.connection.idle_timeout = 300ms;
  reactor::Timer ticker(p.loop);
  int ticks = 0;
  p.script_client = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      ticker.start(100ms, 100ms, [&] {
        if (++ticks == 10) {
          ticker.stop();
          c.close();
          return;
        }
        c.write("x");
      });
    };
  };
  p.run();
  CHECK(ticks == 10);  // a full second of traffic, beyond three idle periods
  CHECK(p.server->data == "xxxxxxxxx");
  CHECK(p.server->peer_closed);
  CHECK_MESSAGE(!p.server->error, p.server->error.message());
  CHECK(p.close() == 0);
}

TEST_CASE("closing the loop with live connections ends each one with loop_closed") {
  Pair p;
  auto stop_when_both_open = [&](Recorder& h) {
    h.open = [&](reactor::Connection&) {
      if (p.server->opened && p.client->opened) p.loop.stop();
    };
  };
  p.script_client = stop_when_both_open;
  p.script_server = stop_when_both_open;
  p.run();
  REQUIRE(p.client->opened);
  CHECK(p.loop.connection_count() == 2);
  CHECK(p.close() == 0);
  CHECK(p.server->closed);
  CHECK(p.client->closed);
  CHECK(p.client->error.code() == reactor::Errc::loop_closed);
}

TEST_CASE("data written after close is refused, not sent") {
  Pair p;
  bool late_write = true;
  p.script_server = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      c.write("first");
      c.close();
      late_write = c.write("late");
    };
  };
  p.run();
  CHECK_FALSE(late_write);
  CHECK(p.client->data == "first");
  CHECK(p.close() == 0);
}

TEST_CASE("a handler that throws aborts its own connection and the loop carries on") {
  Pair p;
  p.script_client = [](Recorder& h) { h.open = [](reactor::Connection& c) { c.write("x"); }; };
  p.script_server = [](Recorder& h) {
    h.data = [](reactor::Connection&, std::span<const std::byte>) {
      throw std::runtime_error("bad input");
    };
  };
  p.run();
  CHECK(p.server->error.code() == reactor::Errc::handler_failed);
  CHECK(p.server->error.message() == "bad input: the handler threw an exception");
  CHECK((p.client->error.code() == std::errc::connection_reset));
  CHECK(p.close() == 0);
}

TEST_CASE("writing to a peer that reset the connection is an error, not a SIGPIPE") {
  Pair p;
  reactor::Timer writer(p.loop);
  const std::string chunk = test_support::pattern(256 * 1024);
  p.script_server = [](Recorder& h) {
    h.data = [](reactor::Connection& c, std::span<const std::byte>) { c.abort(); };
  };
  p.script_client = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      c.pause_reading();  // learn of the reset through writing, not reading
      writer.start(0ms, 5ms, [&c, &chunk] { c.write(chunk); });
    };
    h.closed = [&](reactor::Connection&, const reactor::Error&) { writer.stop(); };
  };
  p.run();
  CHECK(p.server->error.code() == reactor::Errc::aborted);
  const auto& e = p.client->error.code();
  CHECK_MESSAGE((e == std::errc::broken_pipe || e == std::errc::connection_reset),
                p.client->error.message());
  CHECK(p.client->error.message().rfind("write: ", 0) == 0);
  CHECK(p.close() == 0);
}

TEST_CASE("a writer that ignores write() returning false is aborted at max_buffered") {
  Pair p;
  constexpr std::size_t cap = 1 << 20;
  constexpr std::size_t step = 64 * 1024;
  p.listen_options.connection.max_buffered = cap;
  test_support::IgnoredBackpressure writer(p, step);
  p.run();
  CHECK(p.server->error.code() == reactor::Errc::write_queue_full);
  CHECK(writer.writes < 4096);
  CHECK_MESSAGE(writer.peak <= cap + step, "peak queued " << writer.peak);
  CHECK(p.client->error);  // the abort is a reset, not a clean end
  CHECK(p.close() == 0);
}

TEST_CASE("at max_connections the listener stops accepting, without spinning, and resumes") {
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog(std::in_place, loop, 20s);
  reactor::ListenOptions options;
  options.max_connections = 2;
  std::vector<reactor::Connection*> served;
  auto factory = [&] {
    auto h = std::make_unique<Recorder>(std::make_shared<test_support::Record>());
    h->open = [&](reactor::Connection& c) { served.push_back(&c); };
    return h;
  };
  reactor::TcpListener listener(loop, factory, options);
  REQUIRE_FALSE(listener.listen(*reactor::Address::from_ip("127.0.0.1", 0)));
  const reactor::HostPort target{"127.0.0.1", listener.local_address().port()};
  std::vector<std::shared_ptr<test_support::Record>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_shared<test_support::Record>());
    reactor::TcpConnector(loop).connect(target, std::make_unique<Recorder>(clients.back()));
  }
  // Every client connects (the kernel's backlog takes them) but only two are served. The loop
  // then has nothing to do until the `check` timer: a listener spinning on the waiting clients
  // would make the loop turn over and over meanwhile. The loop is driven one iteration at a
  // time here to count its turns between two timers; expected are the timers' own.
  std::size_t served_while_full = 0;
  bool paused_while_full = false;
  bool quiet = false;  // between `settle` and `check`
  std::size_t quiet_iterations = 0;
  reactor::Timer settle(loop);
  reactor::Timer check(loop);
  settle.start(200ms, 0ms, [&] { quiet = true; });
  check.start(1200ms, 0ms, [&] {
    quiet = false;
    served_while_full = served.size();
    paused_while_full = listener.paused();
    served.front()->close();  // frees a place: the third client is served
  });
  bool gave_up = false;  // the hang guard: run_once() keeps no watchdog's stop()
  reactor::Timer guard(loop);
  guard.start(20s, 0ms, [&] {
    FAIL_CHECK("the third client was still not served after 20 s");
    gave_up = true;
  });
  // Until the third is served and the listener, full again, has left the fourth waiting.
  while ((served.size() < 3 || !listener.paused()) && !gave_up) {
    loop.run_once(true);
    if (quiet) ++quiet_iterations;
  }
  guard.stop();
  CHECK(served_while_full == 2);
  CHECK(paused_while_full);
  // A second of nothing to do: a few turns (the timers', the deadline wheel's), where a
  // listener polling its waiting clients would turn the loop thousands of times.
  CHECK_MESSAGE(quiet_iterations <= 100,
                "loop turns while the listener was full: " << quiet_iterations);
  CHECK(served.size() == 3);
  CHECK(listener.accepted() == 3);
  CHECK(listener.paused());  // the fourth still waits
  dog.reset();
  listener.close();  // the waiting client is closed with the listener
  for (auto& c : clients)
    if (c->conn != nullptr) c->conn->abort();
  loop.run();
  CHECK(loop.close() == 0);
}

TEST_CASE("an accepted connection has TCP_NODELAY, inherited from its listening socket") {
  Pair p;
  int server_fd = -2;
  int nodelay = -2;
  p.script_server = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      server_fd = test_support::socket_of(c.local_address(), c.peer_address());
      nodelay = test_support::nodelay_of(server_fd);
      c.close();
    };
  };
  p.run();
  CHECK(server_fd >= 0);
  CHECK(nodelay == 1);
  CHECK_MESSAGE(!p.server->error, p.server->error.message());
  CHECK(p.close() == 0);
}

TEST_CASE("write_last sends the bytes and the FIN in one segment") {
  Pair p;
  bool more_refused = false;
  long segments = -2;
  p.script_server = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      CHECK(c.write_last("last words"));
      more_refused = !c.write("too late");
    };
  };
  p.script_client = [&](Recorder& h) {
    h.peer_closed = [&](reactor::Connection& c) {
      // Received so far: the SYN-ACK and one segment with both the bytes and the FIN (TCP_NODELAY
      // alone would have sent the bytes at once and the FIN after them: three).
      segments =
          test_support::segments_in(test_support::socket_of(c.local_address(), c.peer_address()));
      c.close();
    };
  };
  p.run();
  CHECK(p.client->data == "last words");
  CHECK(p.client->peer_closed);
  CHECK(more_refused);
  CHECK(segments == 2);
  CHECK(p.server->stats_at_close.bytes_written == 10);
  CHECK_MESSAGE(!p.server->error, p.server->error.message());
  CHECK_MESSAGE(!p.client->error, p.client->error.message());
  CHECK(p.close() == 0);
}

TEST_CASE("write_last queues what the socket does not take and sends the FIN after all of it") {
  Pair p;
  const std::string payload = test_support::pattern(8 << 20);
  p.script_server = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) { c.write_last(payload); };
    h.peer_closed = [](reactor::Connection& c) { c.close(); };
  };
  p.run();
  CHECK(p.client->data.size() == payload.size());
  CHECK(p.client->data == payload);
  CHECK(p.client->peer_closed);
  CHECK(p.server->stats_at_close.bytes_written == payload.size());
  CHECK(p.server->stats_at_close.queued_bytes == 0);
  CHECK_MESSAGE(!p.server->error, p.server->error.message());
  CHECK_MESSAGE(!p.client->error, p.client->error.message());
  CHECK(p.close() == 0);
}
