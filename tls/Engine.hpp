// tls::Engine: one TLS connection as a pure state machine over one in-memory BIO of its own
// (both directions are ByteBuffers, tls/ByteBuffer.hpp). Ciphertext
// goes in with feed() and comes out of peek_output(); plaintext goes in with write() and comes
// out through a Sink during advance(). It knows nothing of sockets or event loops: whoever
// drives it (TlsTransport, a test wiring two engines back to back, a fuzzer) moves the bytes.
//
// Every OpenSSL I/O call goes through one place (run()) that clears the thread's error
// queue first, asks SSL_get_error() right after, and drains the queue into a TlsError on
// failure; one table maps each SSL_get_error result to what the engine does next.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "reactor/Error.hpp"
#include "tls/ByteBuffer.hpp"
#include "tls/Context.hpp"
#include "tls/Errors.hpp"
#include "tls/Ptr.hpp"

namespace tls {

/// What the engine needs before it can make more progress.
enum class Want : std::uint8_t {
  nothing,       // nothing pending (or the sink asked to stop)
  input,         // WANT_READ: more ciphertext from the peer
  output,        // WANT_WRITE: the bounded output is full; drain it, then advance() again
  async,         // WANT_ASYNC: parked until an async fd (async_fds()) is readable; then resume()
  async_job,     // WANT_ASYNC_JOB: parked until an async job is free; then resume()
  x509_lookup,   // WANT_X509_LOOKUP: parked until the application's certificate lookup; resume()
  client_hello,  // WANT_CLIENT_HELLO_CB: parked until the application decides; resume()
  retry_verify,  // WANT_RETRY_VERIFY: parked until the application's verify policy answers;
                 // resume()
  closed,        // finished or failed: no more operations
};

const char* to_string(Want want) noexcept;

/// What one advance() did, so that its driver acts on it without asking the engine again.
struct Progress {
  Want want = Want::nothing;  ///< what the engine needs before it can go further
  bool output = false;        ///< ciphertext waits in peek_output() (records, handshake, alerts)
  bool plaintext = false;     ///< the sink was handed plaintext
  bool events = false;        ///< take_events() has something (handshake done, peer closed, failed)
  bool queued = false;        ///< plaintext still waits to be encrypted (the budget ran out)
  bool async_call = false;    ///< an SSL call ran in async mode: it took one of the thread's jobs

  /// The engine is finished (cleanly or not): the driver sends what is in peek_output() and closes.
  bool closed() const noexcept { return want == Want::closed; }
};

/// A failure, with everything OpenSSL said about it.
struct TlsError {
  std::error_code code;    ///< tls::Errc
  std::string context;     ///< "handshake", "read", "write", "shutdown"
  std::string detail;      ///< the most specific reason ("hostname mismatch", "no shared cipher")
  int ssl_error = 0;       ///< the SSL_get_error() result of the failing call
  long verify_result = 0;  ///< X509_V_OK unless the peer's certificate failed
  std::vector<QueuedError> queue;  ///< the thread's error queue at the failure, oldest first

  /// True when there was a failure.
  explicit operator bool() const noexcept { return static_cast<bool>(code); }
  /// "handshake: certificate verify failed: hostname mismatch"
  std::string message() const;
};

/// What the handshake agreed on; filled once the handshake completes.
struct TlsInfo {
  std::string protocol;     ///< "TLSv1.3"
  std::string cipher;       ///< "TLS_AES_256_GCM_SHA384"
  std::string alpn;         ///< "" when none was agreed
  std::string server_name;  ///< SNI as sent by the client ("" without SNI)
  /// The session was resumed (ticket or cache), no full handshake.
  bool resumed = false;
  std::string peer_subject;  ///< "/CN=localhost", "" without a peer certificate
  /// Server side only (a client's identity; empty on client connections and without one): the
  /// peer's certificate as DER (for TLS 1.2 resumption, what the session kept).
  std::string peer_certificate;
  /// Server side only, as peer_certificate: the other certificates the peer sent, as DER, in
  /// its order.
  std::vector<std::string> peer_chain;
  /// From the transport's TCP open to the handshake's end, as its driver measured it (the
  /// engine has no clock): time spent waiting for the peer, for async decisions and on the CPU.
  std::chrono::microseconds handshake_time{0};
};

/// Receives plaintext during advance(). Return false to stop reading (the application paused):
/// the rest stays buffered inside the engine until the next advance().
class Sink {
 public:
  /// Decrypted bytes, in order; `data` is valid only during the call (it points into advance()'s
  /// scratch). Called on the engine's thread, inside advance(): it must not destroy the engine.
  virtual bool plaintext(std::span<const std::byte> data) = 0;
  /// False: advance() reads nothing this time (records stay buffered), e.g. while the driver
  /// lets other connections have their turn.
  virtual bool accepting() const { return true; }

 protected:
  ~Sink() = default;
};

/// Per-connection settings, read by Engine's constructor.
struct EngineOptions {
  std::string host;        ///< client: SNI, name verification and session cache key
  std::uint16_t port = 0;  ///< client: session cache key
  /// 0: the output BIO grows as needed. Otherwise a BIO pair of this size, so a full output
  /// makes OpenSSL report SSL_ERROR_WANT_WRITE (tests; a transport that bounds its memory).
  std::size_t max_output = 0;
};

/// Thread-safety: none; one engine is driven from one thread (OpenSSL's error queue and async
/// jobs are per thread).
class Engine {
 public:
  /// TLS records carry at most 16 KiB of plaintext; writes are cut at this size.
  static constexpr std::size_t max_record = SSL3_RT_MAX_PLAIN_LENGTH;

  /// A server or client engine (as `context` is) in the handshaking phase; the handshake starts at
  /// the first advance(). Keeps `context` alive for as long as it lives.
  Engine(std::shared_ptr<const Context> context, const EngineOptions& options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // ---- ciphertext: the network side ----
  /// Bytes received from the peer, copied in; the next advance() decrypts them.
  void feed(std::span<const std::byte> ciphertext);
  /// The transport ended (TCP FIN or reset). Reads that need more input now fail: with a
  /// close_notify already received that is a clean end, otherwise a truncation.
  void feed_eof();
  /// Ciphertext waiting to be sent (a contiguous part of it); consume what was taken.
  std::span<const std::byte> peek_output();
  /// Drops the first `n` bytes of peek_output(), once the transport has taken them.
  void consume_output(std::size_t n);
  /// Ciphertext waiting to be sent, all of it (peek_output() may show less).
  std::size_t output_size() const;

  // ---- plaintext: the application side ----
  /// Queues plaintext; it is written once the handshake is done, in records of at most 16 KiB.
  /// Empty writes are ignored (SSL_write with 0 bytes is undefined).
  void write(std::span<const std::byte> plaintext);
  /// As write(), but once the handshake is done and nothing is queued ahead, encrypts up to
  /// `budget` bytes at once from `plaintext` itself (no queued copy); only the rest is queued.
  /// The ciphertext is in peek_output() on return; events (a failure) show at the next advance().
  void write_now(std::span<const std::byte> plaintext, std::size_t budget);
  /// Plaintext accepted by write() and not yet encrypted.
  std::size_t queued_plaintext() const noexcept { return queued_bytes_; }
  /// Sends close_notify after the queued plaintext. Before the handshake completed there is
  /// nothing to notify: the engine just closes.
  void close();

  /// Runs every SSL call that can make progress: the handshake, reads (plaintext to `sink`,
  /// through `scratch`), queued writes (at most `write_budget` plaintext bytes, so a driver can
  /// keep its output bounded), close_notify. Returns what it needs next and what it produced.
  Progress advance(Sink& sink, std::span<std::byte> scratch, std::size_t write_budget = SIZE_MAX) {
    // The report is read off the engine here, inline, so that a caller pays only for the parts
    // of it that it looks at (a test or a benchmark that ignores it, for none).
    const std::uint64_t async_calls = async_calls_;
    delivered_ = false;
    const Want want = step(sink, scratch, write_budget);
    const bool output =
        out_peer_ ? BIO_ctrl_pending(out_peer_.get()) != 0 : !ciphertext_.output.empty();
    return {
        want, output, delivered_, events_ != 0, queued_bytes_ != 0, async_calls_ != async_calls};
  }
  /// Ends a park (async, async_job, x509_lookup, client_hello, retry_verify): the next advance()
  /// re-issues the very same SSL call.
  void resume() noexcept;

  /// How an application decision reaches a parked connection: the driver (TlsTransport) sets a
  /// waker that schedules resume() + advance() on its loop; hooks running inside OpenSSL
  /// callbacks hand it to the application, which calls it once it has decided, from any
  /// thread. A waker may outlive the connection: calling it then does nothing.
  void set_waker(std::function<void()> waker) { waker_ = std::move(waker); }
  /// The waker set_waker() installed (empty before), for hooks that hand it to the application.
  const std::function<void()>& waker() const noexcept { return waker_; }
  /// The Engine driving `ssl`, for code inside OpenSSL callbacks (nullptr for a foreign SSL).
  static Engine* of(const SSL* ssl) noexcept;

  /// Renegotiation (TLS 1.2) or a KeyUpdate (TLS 1.3) started by this side; the messages are
  /// produced by the next advance(). An Error when it cannot start: before the handshake ended
  /// or after the close (std::errc::operation_not_permitted), or refused by OpenSSL
  /// (Errc::protocol_error, e.g. renegotiation over TLS 1.3).
  reactor::Error renegotiate();
  /// A TLS 1.3 KeyUpdate; with `request_peer_update` the peer is asked to update its keys too.
  /// Errors as renegotiate()'s.
  reactor::Error key_update(bool request_peer_update);

  // ---- memory ----
  /// Gives OpenSSL's record buffers (about 34 KiB once a connection has read and written) and
  /// the engine's own small ciphertext buffers back while they hold nothing; they are taken
  /// again for the next record. For a driver to call once the connection has gone quiet. False, and
  /// nothing changes, while a record or part of one is still inside them or a call is parked; true
  /// otherwise.
  bool release_buffers() noexcept;
  /// release_buffers() calls that gave buffers back after SSL I/O, and ones refused because a
  /// record (or part of one) was inside.
  ///@{
  std::uint32_t buffer_releases() const noexcept { return buffer_releases_; }
  std::uint32_t buffer_release_refusals() const noexcept { return buffer_release_refusals_; }
  ///@}

  // ---- state ----
  /// What happened during advance() that the driver must act on, as bits of take_events().
  enum Event : unsigned { handshake_done = 1, peer_closed = 2, failed = 4 };
  /// Events since the last call (a mask of Event), cleared by the call.
  unsigned take_events() noexcept { return std::exchange(events_, 0u); }
  /// Whether take_events() would return something, without clearing it.
  bool has_events() const noexcept { return events_ != 0; }
  /// The engine's lifecycle, moved only by move_to(), forwards only:
  ///   handshaking -> open -> closing -> shutdown_sent -> closed
  /// with closed reachable from every phase (a failure; close() during the handshake, which has
  /// nothing to notify; both close_notifies exchanged).
  enum class Phase : std::uint8_t {
    handshaking,    // SSL_do_handshake until it succeeds
    open,           // application data both ways
    closing,        // close() asked: our close_notify goes once the queued plaintext has
    shutdown_sent,  // our close_notify is out; reading goes on until the peer's
    closed,         // finished or failed: no more SSL calls
  };
  /// Where the lifecycle is now.
  Phase phase() const noexcept { return phase_; }
  /// The furthest phase reached before closed (the current one while not closed), so that what
  /// happened before the end stays answerable: did the handshake complete, did our close_notify
  /// go out.
  Phase reached() const noexcept { return phase_ == Phase::closed ? closed_in_ : phase_; }
  /// The handshake completed (it may have closed since).
  bool is_handshake_done() const noexcept { return reached() != Phase::handshaking; }
  /// The peer's close_notify arrived: it sends no more application data.
  bool is_peer_closed() const noexcept { return peer_closed_; }
  /// phase() == closed: finished or failed, no more SSL calls.
  bool is_closed() const noexcept { return phase_ == Phase::closed; }
  /// Our close_notify went out (the furthest phase was shutdown_sent), whatever came after.
  bool close_notify_sent() const noexcept { return reached() == Phase::shutdown_sent; }
  /// Plaintext or ciphertext still inside the engine (after a sink stopped reading).
  bool has_buffered_input() const;
  /// Ciphertext fed but not yet consumed by OpenSSL (grows while the engine is parked).
  std::size_t buffered_input() const;
  /// The decision or job the engine waits for (Want::nothing when not parked); resume() ends it.
  Want parked() const noexcept { return parked_; }
  /// An OpenSSL async job is paused inside this engine's SSL (a Signer has not answered): the
  /// SSL must not be freed until the job finished (resume() and advance() until it has).
  bool job_paused() const noexcept { return parked_ == Want::async; }
  /// SSL calls made in async mode: each took one of the thread's async jobs for its duration.
  std::uint64_t async_calls() const noexcept { return async_calls_; }
  /// Why the engine failed (empty unless Event::failed was reported); valid while the engine
  /// lives.
  const TlsError& error() const noexcept;
  /// What the handshake agreed; complete once is_handshake_done(). Valid while the engine lives.
  const TlsInfo& info() const noexcept { return info_; }
  /// The driver's measurement for TlsInfo::handshake_time.
  void set_handshake_time(std::chrono::microseconds elapsed) noexcept {
    info_.handshake_time = elapsed;
  }
  /// The side this engine plays, from its Context.
  bool is_server() const noexcept { return server_; }
  /// The OpenSSL connection, for inspection (certificates, session); calls that move its state
  /// (read, write, shutdown) belong to the engine. Valid while the engine lives.
  SSL* native() const noexcept { return ssl_.get(); }
  /// The SSL I/O calls the engine makes.
  enum class Op : std::uint8_t { handshake, read, write, shutdown };
  /// How often an SSL_get_error() result (SSL_ERROR_*) was seen, over all calls or one kind.
  ///@{
  std::uint64_t result_count(int ssl_error) const noexcept;
  std::uint64_t result_count(Op op, int ssl_error) const noexcept;
  ///@}
  /// SSL_write_ex calls that succeeded with fewer bytes than offered (partial-write mode).
  std::uint64_t partial_writes() const noexcept { return partial_writes_; }
  /// The fds to poll while parked on Want::async (SSL_get_all_async_fds).
  std::vector<int> async_fds() const;
  /// Renegotiations the peer started and KeyUpdates it sent, over the connection's life.
  ///@{
  std::uint64_t peer_renegotiations() const noexcept { return renegotiations_.total; }
  std::uint64_t peer_key_updates() const noexcept { return key_updates_.total; }
  ///@}

 private:
  template <typename Call>
  int run(Op op, Call&& call);
  Want settle(Op op, int ssl_error);
  /// advance() without its report.
  Want step(Sink& sink, std::span<std::byte> scratch, std::size_t write_budget);
  Want handshake();
  Want read(Sink& sink, std::span<std::byte> scratch);
  Want write_queued(std::size_t budget);
  /// SSL_write_ex over `data`, records of at most max_record, while `budget` lasts; returns the
  /// bytes taken. `want` is set to what a call that did not succeed settled to.
  std::size_t encrypt(std::span<const std::byte> data, std::size_t budget, Want& want);
  Want shutdown();
  Want kick();
  void fail(Op op, int ssl_error);
  /// The one place the phase changes (forwards only; closed remembers the phase it ended).
  void move_to(Phase next) noexcept;
  /// Counts the peer's post-handshake messages against the Context's PeerLimits.
  static void on_message(int write_p, int version, int content_type, const void* buf,
                         std::size_t len, SSL* ssl, void* arg);

  /// Events in the current one-minute window (a fixed window opened by its first event).
  struct RateWindow {
    std::chrono::steady_clock::time_point start{};
    unsigned count = 0;
    std::uint64_t total = 0;
    // Counts one event now; true when it is over `limit` for its window.
    bool over(unsigned limit, std::chrono::steady_clock::time_point now);
  };
  void fill_info();

  TlsError& error_for_update();

  std::shared_ptr<const Context> context_;
  std::function<void()> waker_;
  /// Ciphertext in and out, and plaintext queued for SSL_write: each holds storage only while
  /// it holds bytes (an idle connection keeps none). Declared before ssl_, whose BIOs point
  /// at the first two, so they outlive it.
  BufferPair ciphertext_;  ///< output unused when bounded (out_peer_)
  ByteBuffer queue_;
  SslPtr ssl_;
  BioPtr out_peer_;  ///< bounded output: the end of the BIO pair we drain

  std::size_t queued_bytes_ = 0;
  std::size_t retry_len_ = 0;  ///< a write that wanted a retry is repeated with this length

  std::unique_ptr<TlsError> error_;  ///< only once something failed
  TlsInfo info_;
  /// [Op][SSL_ERROR_*]: 32-bit counts keep an idle engine small; one connection making four
  /// billion calls of one kind with one result would wrap.
  std::array<std::array<std::uint32_t, SSL_ERROR_WANT_RETRY_VERIFY + 1>, 4> results_{};
  RateWindow renegotiations_;
  RateWindow key_updates_;
  /// Set inside on_message when a PeerLimits rate is exceeded: the SSL call then fails.
  Errc over_limit_{};
  std::uint64_t partial_writes_ = 0;
  std::uint64_t async_calls_ = 0;
  std::uint32_t buffer_releases_ = 0;
  std::uint32_t buffer_release_refusals_ = 0;
  unsigned events_ = 0;
  Want parked_ = Want::nothing;
  bool server_ = false;
  bool kick_handshake_ = false;    ///< renegotiate()/key_update() wait for an SSL_do_handshake
  bool parked_was_async_ = false;  ///< the last handshake call paused in an async job
  Phase phase_ = Phase::handshaking;
  Phase closed_in_ = Phase::handshaking;  ///< the phase move_to(closed) left
  // Two facts about the peer's direction, not phases of ours: they can be true in any phase
  // from handshaking on (a peer may hang up mid-handshake, or send close_notify while we still
  // write, a TLS half-close), so folding them into Phase would double every phase. They only
  // decide when the phase moves: peer_closed_ with our close_notify out ends the connection,
  // eof_fed_ turns a read that needs more input into the truncation (or the clean end).
  bool peer_closed_ = false;       ///< the peer's close_notify was read (SSL_ERROR_ZERO_RETURN)
  bool eof_fed_ = false;           ///< feed_eof(): no more ciphertext will come
  bool io_since_release_ = false;  ///< an SSL I/O call ran since buffers were last given back
  bool delivered_ = false;         ///< plaintext went to the sink during this advance()
};

}  // namespace tls
