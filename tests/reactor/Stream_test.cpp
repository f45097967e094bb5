#include <doctest/doctest.h>

#include "reactor/Timer.hpp"
#include "tests/support/Pair.hpp"

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
  CHECK(p.server->error.code() == reactor::Errc::close_timeout);
  CHECK(closed_after >= 300);
  CHECK(closed_after < 5000);
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
