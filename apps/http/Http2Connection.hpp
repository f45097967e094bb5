// The HTTP/2 server side of one connection: binds an Http2Session to a reactor::Connection and
// runs an Exchange per stream, from the app's factory. The handler of a TLS connection whose
// ALPN chose "h2", or of a plain one that began with the HTTP/2 preface (prior knowledge).
//
// Backpressure: a stream's request body holds its own window while its Exchange paused it; the
// session serializes frames only while the connection takes them (write() true), and reading
// stops while the connection's queue is full, so a peer that does not read holds the server to
// the write high-water mark plus Http2Limits::output_high, whatever it sends.
//
// Stalls: one deadline per connection on the loop's wheel, every Http2Limits::stall_timeout while
// streams are open or bytes wait for the socket. A peer that took none of the socket's queued bytes
// over a whole period is aborted; streams and a connection whose windows the peer keeps shut are
// the session's to end (Http2Session::sweep_stalled). Each limit that fires is one log line.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "apps/http/Exchange.hpp"
#include "apps/http/Http2Session.hpp"
#include "reactor/EndOfTurn.hpp"
#include "reactor/Handler.hpp"
#include "reactor/WheelTimer.hpp"

namespace apps::http {

// Thread-safety: none; one per connection, on its loop's thread.
class Http2Connection final : public reactor::Handler, private Http2Events {
 public:
  Http2Connection(ExchangeFactory factory, Http2Limits limits);
  ~Http2Connection() override;

  // Starts the session on an open connection whose first bytes (`early`, maybe empty) were
  // already read by someone else (a sniffer looking for the preface). on_open calls it.
  void start(reactor::Connection& conn, std::span<const std::byte> early);

  void on_open(reactor::Connection& conn) override { start(conn, {}); }
  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override;
  void on_drain(reactor::Connection& conn) override;
  void on_peer_closed(reactor::Connection& conn) override;
  void on_server_stopping(reactor::Connection& conn) override;
  void on_close(reactor::Connection& conn, const reactor::Error& error) override;

  // Why the session failed, if it did (for the log and tests).
  const std::string& error() const { return session_.error(); }

 private:
  class StreamResponse;
  struct Stream;

  // Http2Events
  void on_request(std::int32_t stream, Http2Request& request, bool end_stream) override;
  void on_request_body(std::int32_t stream, std::span<const std::byte> bytes) override;
  void on_request_end(std::int32_t stream, const Fields& trailers) override;
  void on_stream_writable(std::int32_t stream) override;
  void on_stream_closed(std::int32_t stream, std::uint32_t error_code) override;
  void on_limit(std::string_view what) override;

  void feed(std::span<const std::byte> bytes);
  // Writes what the session has serialized while the connection takes it; closes once the
  // session is done.
  void flush();
  // flush() at the end of this loop turn: every stream answered in the turn (and every frame
  // the peer's bytes called for) leaves in one write, so one TLS record, not one per call.
  void flush_later();
  // flush() for callers outside the reactor's handler calls (the end of a turn, the stall
  // timer): an Exchange's exception aborts the connection instead of crossing libuv.
  void flush_guarded() noexcept;
  Stream* find(std::int32_t stream);
  // "PEER: HTTP/2: what", once the connection's peer is known.
  void log(std::string_view what) const;
  // Starts the stall timer if something could stall and it is not running.
  void arm_stall_timer();
  void on_stall_timer();

  ExchangeFactory factory_;
  Http2Session session_;
  reactor::Connection* conn_ = nullptr;
  std::map<std::int32_t, std::unique_ptr<Stream>> streams_;
  bool blocked_ = false;   // the connection's write() said stop: wait for on_drain
  bool flushing_ = false;  // inside flush(): an Exchange's write from on_writable joins it
  // flush_later's; made on start(), gone at on_close.
  std::optional<reactor::EndOfTurn> flush_turn_;
  bool error_logged_ = false;
  std::optional<reactor::WheelTimer> stall_timer_;  // made on start(), gone at on_close
  std::uint64_t written_at_tick_ = 0;               // the socket's bytes_written at the last tick
};

}  // namespace apps::http
