// TLS over a reactor TCP connection: a decorator that is the TCP connection's Handler and the
// application's Connection, with a tls::Engine in between. The application's Handler is the
// same one that runs over plain TCP.
//
// It turns the Engine's Want into reactor actions: ciphertext is flushed to TCP after every
// engine step, reading is on while the engine wants input (and the application has not
// paused), a handshake timeout and a bounded close ("bye") run on reactor timers.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "reactor/Handler.hpp"
#include "reactor/IdleWatch.hpp"
#include "reactor/Poll.hpp"
#include "reactor/TcpConnector.hpp"
#include "reactor/TurnTicket.hpp"
#include "reactor/WheelTimer.hpp"
#include "tls/Engine.hpp"

namespace tls {

class Reaper;
class TransportLoopState;

/// A TLS listener's or connector's settings, the same for each of its connections; read when a
/// connection's transport is made.
struct TransportOptions {
  /// From the TCP open to the handshake's end (a slow or silent client is closed with
  /// Errc::timed_out), nginx's client_header_timeout for the TLS part.
  std::chrono::milliseconds handshake_timeout{10000};
  /// After our close_notify: how long to wait for the peer's before closing anyway.
  std::chrono::milliseconds bye_timeout{3000};
  /// Hard cap on the plaintext and ciphertext held for the application's writes; a write made
  /// while more is held aborts the connection (reactor::Errc::write_queue_full). 0: no cap.
  std::size_t max_buffered = reactor::default_max_buffered;
  /// After handing the application this much plaintext, the connection lets the loop go round
  /// once (serving the others) before it delivers more. 0: no yielding.
  std::size_t max_plaintext_per_turn = 256 * 1024;
  /// Admission control: handshake steps (the calls that advance a handshake, where its
  /// cryptography runs) allowed per loop iteration, over all the loop's connections. Further
  /// ones wait, their ciphertext buffered, for a later iteration, first come first served;
  /// established connections are never held back. 0: no limit. At 8 a turn spends a few ms
  /// at most on handshakes (bench/fairness.sh measures the choice).
  std::size_t handshakes_per_turn = 8;
  /// A connection with no traffic for this long gives OpenSSL's record buffers back (about
  /// 34 KiB), from the loop's deadline wheel; its next record takes them again. Busy
  /// connections (a second record within this time) keep theirs, so a request costs no buffer
  /// allocation; others give them back after each exchange. 0: never give them back.
  std::chrono::milliseconds release_buffers_after{1000};
};

/// Thread-safety: as reactor::Connection (one loop). Owned by the TCP connection it decorates.
class TlsTransport final : public reactor::Handler,
                           public reactor::Connection,
                           private Sink,
                           private reactor::IdleWatch {
 public:
  /// Made by the TLS listener or connector for each TCP connection; `app` is the application's
  /// handler, which it owns and calls with plaintext once the handshake is done. Keeps
  /// `context` alive for the connection's life.
  TlsTransport(std::shared_ptr<const Context> context, const EngineOptions& engine_options,
               std::unique_ptr<reactor::Handler> app, const TransportOptions& options);
  ~TlsTransport() override;

  /// What the handshake agreed on (valid from the application's on_open).
  const TlsInfo& info() const noexcept { return engine_->info(); }
  /// The full TLS error (OpenSSL's queue, verify result) behind the last on_close error.
  const TlsError& tls_error() const noexcept { return engine_->error(); }
  /// The engine, for inspection and the rare control it alone offers (renegotiate(),
  /// key_update()); the transport drives it, so do not advance() it. Valid until on_close returns.
  Engine& engine() noexcept { return *engine_; }

  // reactor::Connection, for the application: plaintext in and out.
  bool write(std::span<const std::byte> data) override;
  using reactor::Connection::write;
  void shutdown() override;
  void close() override;
  void abort() override;
  void pause_reading() override;
  void resume_reading() override;
  void set_idle_timeout(std::chrono::milliseconds timeout) override;
  void set_write_limits(reactor::WriteLimits limits) override;
  /// Counts plaintext not yet encrypted and ciphertext not yet sent, as stats().queued_bytes.
  void request_drain(std::size_t queued) override;
  reactor::Address peer_address() const override;
  reactor::Address local_address() const override;
  reactor::ConnectionStats stats() const override;
  bool is_closing() const override;
  reactor::Loop& loop() const override;

 private:
  // reactor::Handler, for the TCP connection: ciphertext in and out.
  void on_open(reactor::Connection& tcp) override;
  void on_data(reactor::Connection& tcp, std::span<const std::byte> data) override;
  void on_drain(reactor::Connection& tcp) override;
  void on_peer_closed(reactor::Connection& tcp) override;
  void on_server_stopping(reactor::Connection& tcp) override;
  void on_close(reactor::Connection& tcp, const reactor::Error& error) override;

  /// Sink: plaintext from the engine to the application.
  bool plaintext(std::span<const std::byte> data) override;
  bool accepting() const override { return !yielded_; }

  /// IdleWatch: quiet for release_buffers_after.
  void on_idle() noexcept override;

  /// Calls into the application (app_) with what it throws caught: the connection is aborted
  /// with Errc::handler_failed and the drive goes on to its end.
  template <typename Fn>
  void app_call(Fn&& fn) noexcept;
  void app_threw() noexcept;
  /// Runs an entry from the loop (a wake-up, an admission, a timer) with what escapes it caught.
  template <typename Fn>
  void loop_call(Fn&& fn) noexcept;
  /// Who asked for a drive: the loop (TCP, a timer, a wake-up) or the application, from inside
  /// one of its calls (write, resume_reading, shutdown, close), which must not get on_drain
  /// re-entrantly inside the call that caused it.
  enum class Caller : std::uint8_t { loop, app };
  /// The one drive loop: advance the engine, act on what it produced, again while that asks for
  /// more. A drive asked for while one runs (an application callback wrote) is one more round.
  void drive(Caller caller = Caller::loop);
  void act(const Progress& progress);
  bool on_events();  ///< the engine's events, told to the application
  void flush();
  void open_app();
  /// Hands `last` (the output ending in our close_notify, or nothing) and the FIN to TCP.
  void after_close_notify(std::span<const std::byte> last);
  void wait_for_bye();
  void on_time_limit();
  void fail_with(const reactor::Error& error);
  void update_reading();
  void over_cap(std::size_t refused);
  void yield_turn();
  bool admit_handshake_step();
  void on_admitted();
  void close_after_fin();
  void settle_fin();
  void feed_fin();
  void end_yield();
  std::size_t buffered() const;
  std::size_t drain_threshold() const;
  void park(Want want);
  void watch_async_fds();
  void unpark();
  /// One of the loop's async jobs is free again: the first connection waiting for one retries.
  static void job_released(TransportLoopState& state);
  static void wake_job_waiter(TransportLoopState& state);
  friend class Reaper;

  /// Destroyed after the polls below: the async fds belong to the SSL, which closes them.
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<reactor::Handler> app_;
  TransportOptions options_;
  reactor::Connection* tcp_ = nullptr;      ///< valid from on_open (TCP) until on_close
  reactor::Loop* loop_ = nullptr;           ///< the loop this connection lives on (from on_open)
  TransportLoopState* per_loop_ = nullptr;  ///< the loop's scratch buffers and jobs (from on_open)
  /// On the loop's wheel, not libuv handles: a connection costs the loop no handle but its TCP one.
  std::optional<reactor::WheelTimer> deadline_;  ///< the handshake's, then the bye's (from on_open)
  std::vector<std::unique_ptr<reactor::Poll>> async_polls_;  ///< the engine's async fds
  std::unique_ptr<reactor::WheelTimer> job_retry_;  ///< WANT_ASYNC_JOB, no job of ours to wait for
  std::shared_ptr<TlsTransport*> alive_;  ///< weak handles for wake-ups that may come late
  reactor::TurnTicket admission_;         ///< a handshake step waiting for a later loop turn
  bool in_async_job_ = false;             ///< our engine holds one of the loop's async jobs
  // The peer's TCP FIN, and what became of it. Without a close_notify before it the stream is
  // truncated, but an application holding a complete request may still answer it (as nginx
  // does): the end is told to it once everything received has been delivered, and the EOF goes
  // to OpenSSL only after the answer, when the application closes.
  enum class Fin : std::uint8_t {
    none,       // not received
    pending,    // received; plaintext still buffered for a paused application comes first
    truncated,  // no close_notify came: the application heard on_peer_closed and may answer
    feeding,    // the EOF went to the engine in this drive; TCP closes after it (close_after_fin)
    fed,        // the EOF is with the engine: a clean end after close_notify, or the truncation
  };
  Fin fin_ = Fin::none;
  /// Our side's end, one state machine (forwards only, moved by end_to()). With Fin (the peer's
  /// TCP FIN) and the engine's phase (close_notify each way) it is the whole of a TLS
  /// connection's close; the peer's side stays apart because the peer may finish in any of
  /// these. docs/driver.md draws them.
  enum class Close : std::uint8_t {
    open,          // neither shutdown() nor close()
    half_closing,  // shutdown(): close_notify then the FIN after the queued plaintext; reading on
    half_closed,   // shutdown() done: our close_notify and FIN are out; reading goes on
    closing,       // close(), or an error or abort ended the session: nothing more reaches the
                   // application; our close_notify, if any, is still to go
    bye,           // our close_notify and FIN are out and the session is ending: the peer's
                   // close_notify is waited for (bye_timeout) after close()
  };
  Close close_ = Close::open;
  /// Moves close_ forwards (never back); closing once our FIN is out is the bye wait.
  void end_to(Close to) noexcept;
  bool ending() const noexcept { return close_ >= Close::closing; }
  bool fin_sent() const noexcept { return close_ == Close::half_closed || close_ == Close::bye; }
  /// The drive loop's own state: running, and whether an application callback made from inside
  /// it (on_data writing, on_peer_closed closing) asked for another round.
  enum class Drive : std::uint8_t { idle, running, again };
  Drive drive_ = Drive::idle;
  Want parked_as_ = Want::nothing;         ///< the park this transport is handling
  std::unique_ptr<reactor::Error> error_;  ///< our own reason for the end, once there is one
  std::chrono::steady_clock::time_point opened_at_{};  ///< TCP open, for TlsInfo::handshake_time
  reactor::WriteLimits limits_{};
  std::uint64_t plaintext_read_ = 0;
  std::uint64_t plaintext_written_ = 0;
  std::size_t peak_buffered_ = 0;  // most plaintext + ciphertext held at once, right after a write
  std::size_t delivered_since_yield_ = 0;  ///< plaintext handed over since the last yield_turn()
  std::uint8_t records_since_quiet_ = 0;   ///< records read since on_idle (counted up to 2)
  bool app_open_ = false;
  bool app_paused_ = false;
  bool yielded_ = false;  ///< waiting for the next loop turn to deliver more plaintext
  // Backpressure towards the application is this layer's alone (TCP's write() result is never
  // looked at; TCP says when its queue is down to a size asked with request_drain): write()
  // went over limits_.high, so on_drain is owed once buffered() is down to limits_.low.
  bool above_high_ = false;
  bool drain_requested_ = false;  ///< the application's request_drain(): on_drain at drain_at_
  std::size_t drain_at_ = 0;
};

/// The TlsInfo of a connection, or nullptr for a plain TCP connection.
const TlsInfo* info(const reactor::Connection& conn) noexcept;

/// Server side: each accepted TCP connection handshakes first, then runs a handler from `app`.
reactor::HandlerFactory server_factory(std::shared_ptr<const Context> context,
                                       reactor::HandlerFactory app, TransportOptions options = {});

/// Client side: connects to target, handshakes (SNI and verification for target.host), then
/// lands in app->on_open, or in app->on_close with the TCP or TLS error.
void connect(reactor::Loop& loop, const reactor::HostPort& target,
             std::shared_ptr<const Context> context, std::unique_ptr<reactor::Handler> app,
             reactor::ConnectOptions connect_options = {}, TransportOptions options = {});

}  // namespace tls
