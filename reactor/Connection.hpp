// The one connection interface applications see, whatever carries the bytes (TCP or TLS).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "reactor/Address.hpp"

namespace reactor {

class Loop;

/// Write-queue thresholds. write() returns false once queued bytes exceed `high`; on_drain fires
/// when they fall back to `low` or below.
struct WriteLimits {
  /// Queued bytes above which write() returns false (the writer should wait for on_drain).
  std::size_t high = 256 * 1024;
  /// Queued bytes at or below which on_drain fires, after write() returned false.
  std::size_t low = 64 * 1024;
};

/// The hard cap on a connection's queued bytes, for writers that ignore write() returning false:
/// a write made while more than this is queued aborts the connection (Errc::write_queue_full,
/// one log line) instead of letting memory grow without bound. The queue so never holds more
/// than the cap plus one write.
constexpr std::size_t default_max_buffered = 16 * 1024 * 1024;

/// Counters of one connection since it opened, a snapshot copied out by Connection::stats() (access
/// logs and metrics read it, often from on_close).
struct ConnectionStats {
  /// Bytes received from the kernel, before any layer above (TLS) decoded them.
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;    ///< accepted by the kernel
  std::size_t queued_bytes = 0;       ///< accepted by write(), not yet by the kernel
  std::size_t peak_queued_bytes = 0;  ///< highest queued_bytes ever seen
};

/// Per-connection settings, chosen by the listener or connector that creates the connection.
struct ConnectionOptions {
  /// The write() water marks; set_write_limits() changes them later.
  WriteLimits limits{};
  std::chrono::milliseconds idle_timeout{0};  ///< 0: none. Any read or completed write resets it.
  std::chrono::milliseconds close_timeout{5000};    ///< bound on a graceful close (flush + linger).
  std::size_t max_buffered = default_max_buffered;  ///< 0: no cap
};

/// Thread-safety: none. A connection lives on one loop; call it only from that loop's thread.
/// Lifetime: the reference passed to a Handler stays valid until Handler::on_close returns.
class Connection {
 public:
  /// Queues `data` (copying what the kernel does not take at once). Returns false when the queue
  /// is above the high-water mark: the caller should stop producing until on_drain. Data written
  /// after close()/abort() is dropped.
  virtual bool write(std::span<const std::byte> data) = 0;
  /// The same for text; the bytes are copied before it returns, so `text` may die right after.
  bool write(std::string_view text) {
    return write(std::as_bytes(std::span(text.data(), text.size())));
  }

  /// Half-close: send FIN after everything queued; we keep reading until the peer finishes.
  virtual void shutdown() = 0;
  /// write(data), then shutdown(): the last bytes this side sends. Over TCP with nothing queued
  /// they and the FIN leave in one segment. Returns what write() would.
  virtual bool write_last(std::span<const std::byte> data) {
    const bool below_high = write(data);
    shutdown();
    return below_high;
  }
  /// The same for text, copied before it returns.
  bool write_last(std::string_view text) {
    return write_last(std::as_bytes(std::span(text.data(), text.size())));
  }
  /// Graceful close: stop delivering data, flush the queue, send FIN, wait (bounded by
  /// close_timeout) for the peer's FIN, then close. Ends in on_close.
  virtual void close() = 0;
  /// Immediate close with RST; queued data is dropped. Ends in on_close with Errc::aborted.
  virtual void abort() = 0;

  /// Stop/restart delivering on_data. Paused connections leave data in the kernel (TCP flow
  /// control pushes back on the peer).
  virtual void pause_reading() = 0;
  /// Undoes pause_reading(); data the kernel held arrives in later on_data calls, never inside this
  /// call.
  virtual void resume_reading() = 0;

  /// Replaces ConnectionOptions::idle_timeout from now on (0: none); the next read or completed
  /// write restarts the count. A handler that knows its protocol's pace (a long poll, a keep-alive
  /// wait) sets it between requests.
  virtual void set_idle_timeout(std::chrono::milliseconds timeout) = 0;
  /// Replaces the water marks; takes effect at the next write() and the next completed write.
  virtual void set_write_limits(WriteLimits limits) = 0;
  /// "Writable again", for a layer above that owns its own backpressure (TLS holds its
  /// application's plaintext until there is room below it, and never looks at write()'s
  /// result): one on_drain once a write completes leaving at most `queued` bytes queued, whether
  /// or not write() ever returned false. Nothing queued now: no call (there is room already). A
  /// new request replaces the one before. The default, for decorators that only forward,
  /// approximates it with the water marks (an on_drain after every write that queued, once the
  /// queue is at `queued` or below); a connection that queues bytes itself overrides it.
  virtual void request_drain(std::size_t queued) { set_write_limits({0, queued}); }

  /// The remote end, fixed when the connection was accepted or connected (an invalid Address if the
  /// kernel could not tell). Safe in on_close.
  virtual Address peer_address() const = 0;
  /// The address this side is bound to (for a listener on 0.0.0.0, the one the peer reached). Safe
  /// in on_close.
  virtual Address local_address() const = 0;
  /// A copy of the counters now; in on_close, the connection's totals.
  virtual ConnectionStats stats() const = 0;
  virtual bool is_closing() const = 0;  ///< close(), abort() or an error has begun the end
  /// The loop the connection lives on, to post work to it or start timers beside it; outlives the
  /// connection.
  virtual Loop& loop() const = 0;

 protected:
  ~Connection() = default;
};

}  // namespace reactor
