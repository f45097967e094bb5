#include "tls/Engine.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <stdexcept>

#include "tls/HookState.hpp"

namespace tls {
namespace {

// What an SSL_get_error() result means for the engine, whatever call produced it.
enum class Step : std::uint8_t {
  progress,
  need_input,
  need_output,
  park,
  peer_closed,
  failed,
  impossible
};

struct Row {
  int ssl_error;
  Step step;
  Want want;
};

// The whole of the SSL_get_error manual page, one row per result, and WANT_RETRY_VERIFY (OpenSSL
// 3.0.2 and later, newer than the page).
constexpr std::array<Row, 13> result_table{{
    {SSL_ERROR_NONE, Step::progress, Want::nothing},
    {SSL_ERROR_WANT_READ, Step::need_input, Want::input},
    {SSL_ERROR_WANT_WRITE, Step::need_output, Want::output},
    {SSL_ERROR_WANT_ASYNC, Step::park, Want::async},
    {SSL_ERROR_WANT_ASYNC_JOB, Step::park, Want::async_job},
    {SSL_ERROR_WANT_X509_LOOKUP, Step::park, Want::x509_lookup},
    {SSL_ERROR_WANT_CLIENT_HELLO_CB, Step::park, Want::client_hello},
    {SSL_ERROR_WANT_RETRY_VERIFY, Step::park, Want::retry_verify},
    {SSL_ERROR_ZERO_RETURN, Step::peer_closed, Want::nothing},
    {SSL_ERROR_SYSCALL, Step::failed, Want::closed},
    {SSL_ERROR_SSL, Step::failed, Want::closed},
    // Only BIO_s_connect/BIO_s_accept produce these; over memory BIOs they are a bug.
    {SSL_ERROR_WANT_CONNECT, Step::impossible, Want::closed},
    {SSL_ERROR_WANT_ACCEPT, Step::impossible, Want::closed},
}};

const Row& row_for(int ssl_error) noexcept {
  for (const Row& row : result_table)
    if (row.ssl_error == ssl_error) return row;
  static constexpr Row unknown{-1, Step::impossible, Want::closed};
  return unknown;
}

const char* op_name(int op) noexcept {
  static constexpr const char* names[] = {"handshake", "read", "write", "shutdown"};
  return names[op];
}

const char* ssl_error_name(int ssl_error) noexcept {
  switch (ssl_error) {
    case SSL_ERROR_WANT_CONNECT:
      return "SSL_ERROR_WANT_CONNECT";
    case SSL_ERROR_WANT_ACCEPT:
      return "SSL_ERROR_WANT_ACCEPT";
    default:
      return "an unknown SSL_get_error result";
  }
}

// Ciphertext storage up to this size stays with a connection between records (a small request
// or response record fits), so a busy one does not allocate per record; larger storage, grown
// for a bulk transfer, goes back as soon as it is drained.
constexpr std::size_t kept_capacity = 4096;

int engine_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::span<std::byte> as_writable(char* p, std::size_t n) {
  return {reinterpret_cast<std::byte*>(p), n};
}

}  // namespace

const char* to_string(Want want) noexcept {
  switch (want) {
    case Want::nothing:
      return "nothing";
    case Want::input:
      return "input";
    case Want::output:
      return "output";
    case Want::async:
      return "async";
    case Want::async_job:
      return "async_job";
    case Want::x509_lookup:
      return "x509_lookup";
    case Want::client_hello:
      return "client_hello";
    case Want::retry_verify:
      return "retry_verify";
    case Want::closed:
      return "closed";
  }
  return "?";
}

std::string TlsError::message() const {
  if (!code) return {};
  std::string text = context.empty() ? code.message() : context + ": " + code.message();
  if (!detail.empty()) text += ": " + detail;
  return text;
}

Engine::Engine(std::shared_ptr<const Context> context, const EngineOptions& options)
    : context_(std::move(context)), server_(context_->is_server()) {
  ssl_.reset(SSL_new(context_->native()));
  if (!ssl_)
    throw std::runtime_error("SSL_new: " + last_reason(drain_error_queue(), "out of memory"));
  // An empty input means "no data yet", not end of stream, until feed_eof() says so.
  BIO* in = buffer_bio(ciphertext_);
  BIO* out = nullptr;
  if (options.max_output == 0) {
    out = in;
  } else {
    BIO* peer = nullptr;
    BIO_new_bio_pair(&out, options.max_output, &peer, options.max_output);
    out_peer_.reset(peer);
  }
  if (in == nullptr || out == nullptr) {
    BIO_free(in);
    if (out != in) BIO_free(out);
    throw std::runtime_error("BIO_new: out of memory");
  }
  SSL_set_bio(ssl_.get(), in, out);  // the SSL owns the BIO(s) from here
  SSL_set_ex_data(ssl_.get(), engine_index(), this);
  const PeerLimits& limits = context_->peer_limits();
  if (limits.renegotiations_per_minute != 0 || limits.key_updates_per_minute != 0)
    SSL_set_msg_callback(ssl_.get(), &Engine::on_message);
  if (server_) {
    SSL_set_accept_state(ssl_.get());
    // A Signer answers later: its operation runs inside an async job that pauses, and the
    // handshake reports SSL_ERROR_WANT_ASYNC instead of blocking the loop.
    if (context_->uses_signer()) SSL_set_mode(ssl_.get(), SSL_MODE_ASYNC);
  } else {
    SSL_set_connect_state(ssl_.get());
    // A name that cannot be checked must not be connected to: the engine starts closed.
    if (reactor::Error refused = context_->prepare_client(ssl_.get(), options.host, options.port)) {
      TlsError& error = error_for_update();
      error.code = refused.code();
      error.context = "handshake";
      error.detail = refused.detail();
      move_to(Phase::closed);
      events_ |= failed;
    }
  }
}

Engine::~Engine() = default;

const TlsError& Engine::error() const noexcept {
  static const TlsError none;
  return error_ ? *error_ : none;
}

TlsError& Engine::error_for_update() {
  if (!error_) error_ = std::make_unique<TlsError>();
  return *error_;
}

Engine* Engine::of(const SSL* ssl) noexcept {
  return ssl == nullptr ? nullptr : static_cast<Engine*>(SSL_get_ex_data(ssl, engine_index()));
}

// ---- the one place OpenSSL I/O calls happen -----------------------------------------------

template <typename Call>
int Engine::run(Op op, Call&& call) {
  // The error queue is per thread and SSL_get_error() reads it: it must start empty (junk
  // left by anyone else would turn a WANT_READ into an SSL error) ... Clearing an empty queue
  // walks every slot of it, while peeking reads one: peek first.
  if (ERR_peek_error() != 0) ERR_clear_error();
  const bool async_mode = (SSL_get_mode(ssl_.get()) & SSL_MODE_ASYNC) != 0;
  io_since_release_ = true;
  const int ret = call();
  // ... and SSL_get_error() must come next, with no OpenSSL call in between. SSL_shutdown's 0
  // ("sent ours, the peer's not yet seen") is progress, and SSL_get_error must not be asked.
  const int ssl_error =
      (op == Op::shutdown && ret == 0) ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), ret);
  // A call in async mode runs in one of the thread's jobs, unless none was free.
  if (async_mode && ssl_error != SSL_ERROR_WANT_ASYNC_JOB) ++async_calls_;
  auto& counts = results_[static_cast<std::size_t>(op)];
  if (ssl_error >= 0 && static_cast<std::size_t>(ssl_error) < counts.size())
    ++counts[static_cast<std::size_t>(ssl_error)];
  // The peer went over a PeerLimits rate inside this call: whatever the call achieved, the
  // connection ends here (fail() names the limit).
  if (over_limit_ != Errc{} && phase_ != Phase::closed) return SSL_ERROR_SSL;
  return ssl_error;
}

bool Engine::RateWindow::over(unsigned limit, std::chrono::steady_clock::time_point now) {
  ++total;
  if (count == 0 || now - start >= std::chrono::minutes(1)) {
    start = now;
    count = 0;
  }
  return ++count > limit && limit != 0;
}

void Engine::on_message(int write_p, int, int content_type, const void* buf, std::size_t len,
                        SSL* ssl, void*) {
  // OpenSSL calls this for every record and message, both ways: the engine (an ex_data
  // lookup) and the clock are fetched only for the two kinds counted.
  if (write_p != 0 || content_type != SSL3_RT_HANDSHAKE || len == 0) return;
  const auto type = *static_cast<const unsigned char*>(buf);
  if (type != SSL3_MT_CLIENT_HELLO && type != SSL3_MT_KEY_UPDATE) return;
  Engine* self = of(ssl);
  if (self == nullptr) return;
  const PeerLimits& limits = self->context_->peer_limits();
  // A ClientHello after the handshake is a renegotiation (TLS 1.2; TLS 1.3 has none).
  if (type == SSL3_MT_CLIENT_HELLO && self->is_handshake_done()) {
    if (self->renegotiations_.over(limits.renegotiations_per_minute,
                                   std::chrono::steady_clock::now()))
      self->over_limit_ = Errc::renegotiation_limit;
  } else if (type == SSL3_MT_KEY_UPDATE) {
    if (self->key_updates_.over(limits.key_updates_per_minute, std::chrono::steady_clock::now()))
      self->over_limit_ = Errc::key_update_limit;
  }
}

Want Engine::settle(Op op, int ssl_error) {
  const Row& row = row_for(ssl_error);
  switch (row.step) {
    case Step::progress:
      return Want::nothing;
    case Step::need_input:
      return Want::input;
    case Step::need_output:
      return Want::output;
    case Step::park:
      parked_ = row.want;
      return row.want;
    case Step::peer_closed:
      peer_closed_ = true;
      events_ |= peer_closed;
      return Want::nothing;
    case Step::failed:
    case Step::impossible:
      fail(op, ssl_error);
      return Want::closed;
  }
  return Want::closed;
}

void Engine::fail(Op op, int ssl_error) {
  TlsError& error = error_for_update();
  // First, before any other OpenSSL call can touch the queue.
  error.queue = drain_error_queue();
  error.ssl_error = ssl_error;
  error.context = op_name(static_cast<int>(op));
  error.verify_result = SSL_get_verify_result(ssl_.get());
  const bool eof_reason = !error.queue.empty() && ERR_GET_REASON(error.queue.back().code) ==
                                                      SSL_R_UNEXPECTED_EOF_WHILE_READING;
  if (over_limit_ != Errc{}) {
    const bool renegotiations = over_limit_ == Errc::renegotiation_limit;
    const PeerLimits& limits = context_->peer_limits();
    error.code = over_limit_;
    error.detail = "more than " +
                   std::to_string(renegotiations ? limits.renegotiations_per_minute
                                                 : limits.key_updates_per_minute) +
                   (renegotiations ? " renegotiations" : " KeyUpdates") + " in a minute";
  } else if (row_for(ssl_error).step == Step::impossible) {
    error.code = Errc::internal;
    error.detail = std::string(ssl_error_name(ssl_error)) + " cannot happen over memory BIOs";
  } else if (eof_fed_ && (ssl_error == SSL_ERROR_SYSCALL || eof_reason)) {
    // OpenSSL 3 reports EOF without close_notify as SSL_ERROR_SSL with "unexpected eof while
    // reading" (older versions: SSL_ERROR_SYSCALL); both are the peer truncating the stream.
    error.code = Errc::stream_truncated;
  } else if (const HookFailure* hook = hook_failure(ssl_.get());
             hook != nullptr && !is_handshake_done()) {
    // An application hook refused (or never answered): its reason says more than OpenSSL's
    // "callback failed" or "certificate verify failed".
    error.code = hook->code;
    error.detail = hook->detail;
  } else if (const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
             server_ && !is_handshake_done() && name != nullptr &&
             context_->refuses_server_name(name)) {
    error.code = Errc::unrecognized_name;
    error.detail = name;
  } else if (!is_handshake_done() && error.verify_result != X509_V_OK) {
    error.code = Errc::verify_failed;
    error.detail = X509_verify_cert_error_string(error.verify_result);
  } else {
    // SSL_ERROR_SYSCALL over memory BIOs: a BIO failed without asking for a retry.
    error.code = is_handshake_done() ? Errc::protocol_error : Errc::handshake_failed;
    error.detail =
        last_reason(error.queue, ssl_error == SSL_ERROR_SYSCALL ? "the transport failed" : "");
  }
  move_to(Phase::closed);
  events_ |= failed;
}

void Engine::move_to(Phase next) noexcept {
  if (next <= phase_) return;  // forwards only: a late close() or a second failure changes nothing
  if (next == Phase::closed) closed_in_ = phase_;
  phase_ = next;
}

// ---- operations --------------------------------------------------------------------------

Want Engine::handshake() {
  const bool was_paused = parked_was_async_;
  const int ssl_error = run(Op::handshake, [&] { return SSL_do_handshake(ssl_.get()); });
  parked_was_async_ = ssl_error == SSL_ERROR_WANT_ASYNC;
  // The call that paused was the one that signed; the rest of the handshake has no private-key
  // operation, so it runs without taking an async job per call.
  if (was_paused && !parked_was_async_) SSL_clear_mode(ssl_.get(), SSL_MODE_ASYNC);
  if (ssl_error != SSL_ERROR_NONE) return settle(Op::handshake, ssl_error);
  move_to(Phase::open);
  events_ |= handshake_done;
  // Async mode serves the handshake's private-key operation; an async job captures the
  // caller's buffers, which does not fit the moving write buffers used afterwards.
  SSL_clear_mode(ssl_.get(), SSL_MODE_ASYNC);
  fill_info();
  return Want::nothing;
}

Want Engine::read(Sink& sink, std::span<std::byte> scratch) {
  while (!peer_closed_) {
    // Nothing to read: no ciphertext since OpenSSL last asked for more, no record (or part of
    // one) inside the SSL, no end of stream to report. SSL_read_ex could only answer
    // WANT_READ, after taking and giving back its 17 KiB read buffer (RELEASE_BUFFERS); a
    // keep-alive request made two such calls per response.
    if (ciphertext_.input.empty() && !eof_fed_ && SSL_has_pending(ssl_.get()) == 0)
      return Want::input;
    std::size_t n = 0;
    const int ssl_error =
        run(Op::read, [&] { return SSL_read_ex(ssl_.get(), scratch.data(), scratch.size(), &n); });
    if (ssl_error != SSL_ERROR_NONE) return settle(Op::read, ssl_error);
    // SSL_read_ex returns one record at a time; looping until WANT_READ also drains what
    // SSL_pending() holds.
    delivered_ = true;
    if (!sink.plaintext(scratch.first(n))) return Want::nothing;
  }
  return Want::nothing;
}

Want Engine::write_queued(std::size_t budget) {
  Want want = Want::nothing;
  if (!queue_.empty() && budget > 0) {
    // The bytes are not touched until their write succeeds; a retried write repeats the same
    // bytes and length from the queue's front (appending may move them, which
    // SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows).
    const std::size_t taken = encrypt(queue_.data(), budget, want);
    queue_.consume(taken);
    queued_bytes_ -= taken;
  }
  queue_.release_if_empty();
  return want;
}

std::size_t Engine::encrypt(std::span<const std::byte> data, std::size_t budget, Want& want) {
  // Room for the whole batch at once: growing the output record by record would copy it again.
  if (const std::size_t batch = std::min(data.size(), budget); batch > 0 && !out_peer_) {
    constexpr std::size_t record_overhead = 64;  // header, tag, padding: TLS 1.3 needs 22
    ciphertext_.output.reserve(batch + (batch / max_record + 1) * record_overhead);
  }
  std::size_t taken = 0;
  while (taken < data.size() && budget > 0) {
    // A write that wanted a retry is repeated with the same length (the seed page's rule).
    const std::size_t len =
        retry_len_ != 0 ? retry_len_ : std::min({data.size() - taken, max_record, budget});
    std::size_t written = 0;
    const int ssl_error = run(
        Op::write, [&] { return SSL_write_ex(ssl_.get(), data.data() + taken, len, &written); });
    if (ssl_error != SSL_ERROR_NONE) {
      want = settle(Op::write, ssl_error);
      if (phase_ != Phase::closed) retry_len_ = len;
      return taken;
    }
    // With SSL_MODE_ENABLE_PARTIAL_WRITE `written` may be short: the next call starts after it.
    retry_len_ = 0;
    if (written < len) ++partial_writes_;
    taken += written;
    budget -= std::min(budget, written);
  }
  return taken;
}

Want Engine::shutdown() {
  const int ssl_error = run(Op::shutdown, [&] { return SSL_shutdown(ssl_.get()); });
  if (ssl_error == SSL_ERROR_NONE) {
    move_to(Phase::shutdown_sent);
    return Want::nothing;
  }
  return settle(Op::shutdown, ssl_error);
}

Want Engine::step(Sink& sink, std::span<std::byte> scratch, std::size_t write_budget) {
  // Whatever this call leaves, drained buffers give their storage back (a small one is kept
  // until release_buffers()): the input always, the output once no plaintext waits (room
  // reserved for a write that did not happen, say).
  const struct Release {
    Engine& engine;
    ~Release() {
      engine.ciphertext_.input.release_if_empty(kept_capacity);
      if (engine.queue_.empty()) engine.ciphertext_.output.release_if_empty(kept_capacity);
    }
  } release{*this};
  if (phase_ == Phase::closed) return Want::closed;
  if (parked_ != Want::nothing) return parked_;  // no other SSL call while one is parked
  if (phase_ == Phase::handshaking) {
    const Want want = handshake();
    if (!is_handshake_done()) return want;  // still handshaking, parked, or failed
  }
  if (kick_handshake_ && kick() != Want::nothing) return is_closed() ? Want::closed : parked_;
  const Want reading = peer_closed_ || !sink.accepting() ? Want::nothing : read(sink, scratch);
  if (is_closed() || parked_ != Want::nothing) return is_closed() ? Want::closed : parked_;
  // A peer's KeyUpdate that asks for ours: OpenSSL 3 only notes it and sends ours with the
  // next SSL_write, which may be long in coming; answer now (RFC 8446 allows either). Not while
  // a write waits for its retry: that retry carries it.
  if (retry_len_ == 0 && SSL_get_key_update_type(ssl_.get()) != SSL_KEY_UPDATE_NONE &&
      !key_update(false) && kick() != Want::nothing)
    return is_closed() ? Want::closed : parked_;
  const Want writing = write_queued(write_budget);
  if (is_closed() || parked_ != Want::nothing) return is_closed() ? Want::closed : parked_;
  if (writing == Want::output) return Want::output;
  if (phase_ == Phase::closing && queue_.empty()) {
    if (const Want want = shutdown(); want != Want::nothing) return want;
  }
  if (phase_ == Phase::shutdown_sent && peer_closed_) {
    move_to(Phase::closed);  // both directions finished
    return Want::closed;
  }
  if (reading == Want::input || writing == Want::input) return Want::input;
  return Want::nothing;
}

// Runs SSL_do_handshake on an established connection: it sends what renegotiate() or
// key_update() prepared. Returns nothing unless the connection closed or parked.
Want Engine::kick() {
  kick_handshake_ = false;
  const int ssl_error = run(Op::handshake, [&] { return SSL_do_handshake(ssl_.get()); });
  const Want want = settle(Op::handshake, ssl_error);
  if (ssl_error == SSL_ERROR_NONE && SSL_is_init_finished(ssl_.get()))
    SSL_clear_mode(ssl_.get(), SSL_MODE_ASYNC);
  return is_closed() || parked_ != Want::nothing ? want : Want::nothing;
}

void Engine::resume() noexcept {
  parked_ = Want::nothing;
}

namespace {

// Why a renegotiation or KeyUpdate could not start: too early or too late, or OpenSSL's reason
// (a TLS 1.3 connection cannot renegotiate, a TLS 1.2 one has no KeyUpdate).
reactor::Error cannot_start(const char* what, bool connection_ready) {
  if (!connection_ready)
    return reactor::Error(std::make_error_code(std::errc::operation_not_permitted), what,
                          "only between the handshake's end and the close");
  return reactor::Error(Errc::protocol_error, what,
                        last_reason(drain_error_queue(), "OpenSSL refused it"));
}

}  // namespace

reactor::Error Engine::renegotiate() {
  if (!is_handshake_done() || is_closed()) return cannot_start("renegotiate", false);
  ERR_clear_error();
  if (SSL_renegotiate(ssl_.get()) != 1) return cannot_start("renegotiate", true);
  // The renegotiation signs again: back to async mode until its handshake completes.
  if (context_->uses_signer()) SSL_set_mode(ssl_.get(), SSL_MODE_ASYNC);
  kick_handshake_ = true;
  return {};
}

reactor::Error Engine::key_update(bool request_peer_update) {
  if (!is_handshake_done() || is_closed()) return cannot_start("key update", false);
  ERR_clear_error();
  const int type = request_peer_update ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED;
  if (SSL_key_update(ssl_.get(), type) != 1) return cannot_start("key update", true);
  kick_handshake_ = true;
  return {};
}

// ---- buffers -------------------------------------------------------------------------------

bool Engine::release_buffers() noexcept {
  ciphertext_.input.release_if_empty();
  if (queue_.empty()) ciphertext_.output.release_if_empty();
  if (!io_since_release_) return true;  // nothing taken since the last time
  // A parked call (an async job above all) resumes into the buffers it was using.
  if (parked_ != Want::nothing) return false;
  // OpenSSL refuses while a buffer holds a record or part of one (SSL_pending, an unsent write);
  // it does not touch the error queue either way.
  if (SSL_free_buffers(ssl_.get()) != 1) {
    ++buffer_release_refusals_;
    return false;
  }
  io_since_release_ = false;
  ++buffer_releases_;
  return true;
}

void Engine::feed(std::span<const std::byte> ciphertext) {
  ciphertext_.input.append(ciphertext);
}

void Engine::feed_eof() {
  eof_fed_ = true;
  ciphertext_.input.set_eof();
}

std::span<const std::byte> Engine::peek_output() {
  if (out_peer_) {
    char* data = nullptr;
    const int n = BIO_nread0(out_peer_.get(), &data);
    return n > 0 ? as_writable(data, static_cast<std::size_t>(n)) : std::span<std::byte>();
  }
  return ciphertext_.output.data();
}

void Engine::consume_output(std::size_t n) {
  if (n == 0) return;
  if (out_peer_) {
    char* data = nullptr;
    BIO_nread(out_peer_.get(), &data, static_cast<int>(n));
    return;
  }
  ciphertext_.output.consume(n);
  // While plaintext waits to be encrypted the storage is about to be needed again (a bulk
  // transfer); otherwise a large one goes back, a small one waits for release_buffers().
  if (queue_.empty()) ciphertext_.output.release_if_empty(kept_capacity);
}

std::size_t Engine::output_size() const {
  return out_peer_ ? BIO_ctrl_pending(out_peer_.get()) : ciphertext_.output.size();
}

void Engine::write(std::span<const std::byte> plaintext) {
  if (plaintext.empty() || phase_ >= Phase::closing) return;
  queue_.append(plaintext);
  queued_bytes_ += plaintext.size();
}

void Engine::write_now(std::span<const std::byte> plaintext, std::size_t budget) {
  if (plaintext.empty() || phase_ >= Phase::closing) return;
  // Only where advance() would write next anyway: after the handshake, nothing queued ahead, no
  // retry or park pending, no handshake message to kick out first, and an output that cannot
  // fill (a bounded one may want the same call repeated), outside async mode (a paused job
  // would hold on to the caller's buffer).
  const bool ready = phase_ == Phase::open && queue_.empty() && parked_ == Want::nothing &&
                     retry_len_ == 0 && !kick_handshake_ && !out_peer_ &&
                     (SSL_get_mode(ssl_.get()) & SSL_MODE_ASYNC) == 0;
  if (ready) {
    // A call that did not finish (say WANT_READ in a renegotiation) leaves retry_len_ set: the
    // rest is queued below, starting with those very bytes, and advance() repeats the call.
    Want want = Want::nothing;
    plaintext = plaintext.subspan(encrypt(plaintext, budget, want));
    if (is_closed()) return;
  }
  write(plaintext);
}

void Engine::close() {
  // Before the handshake completed there is nothing to notify: the engine just closes.
  move_to(phase_ == Phase::handshaking ? Phase::closed : Phase::closing);
}

std::size_t Engine::buffered_input() const {
  return ciphertext_.input.size();
}

bool Engine::has_buffered_input() const {
  return SSL_pending(ssl_.get()) > 0 || !ciphertext_.input.empty();
}

// ---- information ---------------------------------------------------------------------------

namespace {

// A certificate's DER encoding ("" when it cannot be encoded).
std::string der_of(X509* cert) {
  const int size = i2d_X509(cert, nullptr);
  if (size <= 0) return {};
  std::string out(static_cast<std::size_t>(size), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_X509(cert, &p);
  return out;
}

}  // namespace

void Engine::fill_info() {
  SSL* ssl = ssl_.get();
  info_.protocol = SSL_get_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl))
    info_.cipher = SSL_CIPHER_get_name(cipher);
  const unsigned char* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  info_.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name))
    info_.server_name = name;
  info_.resumed = SSL_session_reused(ssl) == 1;
  if (X509* peer = SSL_get0_peer_certificate(ssl)) {
    std::array<char, 512> subject{};
    X509_NAME_oneline(X509_get_subject_name(peer), subject.data(),
                      static_cast<int>(subject.size()));
    info_.peer_subject = subject.data();
    // Server side only: a client's identity is what applications forward (RFC 9440); a
    // server's certificate, on every upstream connection, would only take memory.
    if (SSL_is_server(ssl) == 1) {
      info_.peer_certificate = der_of(peer);
      info_.peer_chain.clear();
      if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
        for (int i = 0; i < sk_X509_num(chain); ++i)
          info_.peer_chain.push_back(der_of(sk_X509_value(chain, i)));
      }
    }
  }
  ERR_clear_error();  // informational calls must not leave anything for the next operation
}

std::uint64_t Engine::result_count(Op op, int ssl_error) const noexcept {
  const auto& counts = results_[static_cast<std::size_t>(op)];
  if (ssl_error < 0 || static_cast<std::size_t>(ssl_error) >= counts.size()) return 0;
  return counts[static_cast<std::size_t>(ssl_error)];
}

std::uint64_t Engine::result_count(int ssl_error) const noexcept {
  std::uint64_t total = 0;
  for (int op = 0; op < 4; ++op) total += result_count(static_cast<Op>(op), ssl_error);
  return total;
}

std::vector<int> Engine::async_fds() const {
  std::size_t count = 0;
  SSL_get_all_async_fds(ssl_.get(), nullptr, &count);
  std::vector<int> fds(count);
  if (count > 0) SSL_get_all_async_fds(ssl_.get(), fds.data(), &count);
  fds.resize(count);
  return fds;
}

}  // namespace tls
