#include "tls/TlsTransport.hpp"

#include <poll.h>

#include <algorithm>
#include <array>
#include <deque>
#include <list>
#include <utility>
#include <vector>

#include "reactor/CallbackFailure.hpp"
#include "reactor/Log.hpp"
#include "reactor/Loop.hpp"

namespace tls {
namespace {

using ScratchBuffer = std::array<std::byte, Engine::max_record>;

reactor::Error to_reactor(const TlsError& e) {
  return {e.code, e.context, e.detail};
}

// While parked, ciphertext keeps arriving into the engine up to this much; then reading pauses.
constexpr std::size_t parked_input_cap = 64 * 1024;

class DiscardSink final : public Sink {
 public:
  bool plaintext(std::span<const std::byte>) override { return true; }
};

}  // namespace

// An engine whose connection ended while an async job was paused inside it, kept (its async fds
// polled) until the job finishes; then the SSL is freed.
struct Reaping {
  explicit Reaping(TransportLoopState& s) : state(s) {}
  ~Reaping();
  Reaping(const Reaping&) = delete;
  Reaping& operator=(const Reaping&) = delete;
  // The loop closes with the job still out: wait for the Signer here rather than free a paused
  // SSL.
  void finish_blocking();

  TransportLoopState& state;
  std::unique_ptr<Engine> engine;
  std::vector<std::unique_ptr<reactor::Poll>> polls;  // stopped before the SSL closes its fds
};

// What the transport keeps per loop (Loop::local), made on the loop's first TLS connection and
// destroyed when the loop closes, after every connection's on_close. Loop thread only.
class TransportLoopState {
 public:
  explicit TransportLoopState(reactor::Loop& l) : loop(l) {}

  reactor::Loop& loop;
  // Plaintext is decrypted into one of these, one TLS record at a time. A handler that, from
  // on_data, writes to another TLS connection drives that engine while this buffer is still
  // being read, so nested drives lease the next buffer of a small stack.
  std::vector<std::unique_ptr<ScratchBuffer>> scratch;
  std::size_t scratch_depth = 0;
  // OpenSSL's async jobs (a bounded pool per thread, see tls::limit_async_jobs; a loop has its
  // thread): how many this loop's connections hold, and who waits for one, first come first
  // served.
  std::size_t jobs_held = 0;
  std::deque<std::weak_ptr<TlsTransport*>> job_waiters;
  // Last, so destroyed first: a paused job finished at close still leases a scratch buffer.
  std::list<std::unique_ptr<Reaping>> reaping;
};

namespace {

class ScratchLease {
 public:
  explicit ScratchLease(TransportLoopState& state) : state_(state) {
    if (state_.scratch_depth == state_.scratch.size())
      state_.scratch.push_back(std::make_unique<ScratchBuffer>());
    buffer_ = state_.scratch[state_.scratch_depth++].get();
  }
  ~ScratchLease() { --state_.scratch_depth; }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  std::span<std::byte> span() noexcept { return *buffer_; }

 private:
  TransportLoopState& state_;
  ScratchBuffer* buffer_;
};

void advance_discarding(TransportLoopState& state, Engine& engine) {
  DiscardSink discard;
  ScratchLease scratch(state);
  engine.resume();
  engine.advance(discard, scratch.span());
}

}  // namespace

Reaping::~Reaping() {
  polls.clear();
  if (engine && engine->job_paused()) finish_blocking();
}

void Reaping::finish_blocking() {
  for (int round = 0; round < 100 && engine->job_paused(); ++round) {
    std::vector<pollfd> fds;
    for (int fd : engine->async_fds()) fds.push_back({fd, POLLIN, 0});
    (void)::poll(fds.data(), fds.size(), 100);
    advance_discarding(state, *engine);
  }
  if (engine->job_paused()) {
    reactor::log::error("an async job never finished; its connection's memory is left behind");
    (void)engine.release();
  }
}

// Adopts the engines whose job outlived their connection, and frees each once its job is done.
class Reaper {
 public:
  static void adopt(TransportLoopState& state, std::unique_ptr<Engine> engine,
                    std::vector<std::unique_ptr<reactor::Poll>> polls) {
    state.reaping.push_back(std::make_unique<Reaping>(state));
    Reaping* r = state.reaping.back().get();
    r->engine = std::move(engine);
    r->polls = std::move(polls);
    for (int fd : r->engine->async_fds()) {
      const bool watched =
          std::any_of(r->polls.begin(), r->polls.end(), [&](auto& p) { return p->fd() == fd; });
      if (!watched) r->polls.push_back(std::make_unique<reactor::Poll>(state.loop, fd));
    }
    for (auto& poll : r->polls)
      poll->start(reactor::Poll::readable, [r](int, const reactor::Error&) { step(r); });
  }

 private:
  static void step(Reaping* r) {
    TransportLoopState& state = r->state;
    advance_discarding(state, *r->engine);
    if (r->engine->job_paused()) return;  // a stale wake-up: still waiting
    // Destroying the Reaping destroys the Poll whose callback this is; nothing touches it after.
    state.reaping.remove_if([r](const auto& p) { return p.get() == r; });
    TlsTransport::job_released(state);
  }
};

TlsTransport::TlsTransport(std::shared_ptr<const Context> context,
                           const EngineOptions& engine_options,
                           std::unique_ptr<reactor::Handler> app, const TransportOptions& options)
    : engine_(std::make_unique<Engine>(std::move(context), engine_options)),
      app_(std::move(app)),
      options_(options),
      alive_(std::make_shared<TlsTransport*>(this)),
      admission_([this] { loop_call([this] { on_admitted(); }); }) {}

TlsTransport::~TlsTransport() {
  // The connection is gone but OpenSSL's async job may still be paused inside the SSL (a
  // Signer has not answered): freeing it now would crash or leak the job, so it is kept until
  // the job finishes, its fds still watched through libuv.
  if (engine_ && engine_->job_paused() && per_loop_ != nullptr) {
    in_async_job_ = false;  // the reaper holds the job now
    Reaper::adopt(*per_loop_, std::move(engine_), std::move(async_polls_));
  }
  if (in_async_job_) job_released(*per_loop_);
}

// ---- the TCP side ------------------------------------------------------------------------

void TlsTransport::on_open(reactor::Connection& tcp) {
  opened_at_ = std::chrono::steady_clock::now();
  tcp_ = &tcp;
  loop_ = &tcp.loop();
  per_loop_ = &loop_->local<TransportLoopState>();
  // An application's decision (certificate, hello, verification) may come from any thread and
  // after the connection is gone: hop to the loop, then only if this transport still exists.
  engine_->set_waker([loop = loop_, alive = std::weak_ptr<TlsTransport*>(alive_)] {
    loop->post([alive] {
      if (const auto transport = alive.lock())
        (*transport)->loop_call([&] { (*transport)->unpark(); });
    });
  });
  deadline_.emplace(tcp.loop(), [this] { on_time_limit(); });
  deadline_->start(options_.handshake_timeout);
  // A client makes its key share and sends its ClientHello now. A server waits for one: an
  // SSL_do_handshake with no input could only say WANT_READ, after setting up (and, with
  // RELEASE_BUFFERS, freeing again) its read buffer: work for nothing.
  if (!engine_->is_server() && admit_handshake_step()) drive();
}

void TlsTransport::on_data(reactor::Connection&, std::span<const std::byte> data) {
  engine_->feed(data);
  if (admit_handshake_step())
    drive();
  else
    update_reading();
}

void TlsTransport::on_drain(reactor::Connection&) {
  if (admission_.waiting()) return;  // the handshake's next step waits for its turn
  drive();  // encrypt what waited for room; tells the application when it may write again
}

void TlsTransport::on_peer_closed(reactor::Connection&) {
  fin_ = Fin::pending;
  yielded_ = false;                  // what is left must be read now, before the end is decided
  if (admission_.waiting()) return;  // read in turn, after the handshake step it follows
  drive();                           // whose loop ends in settle_fin()
}

// Decides what the peer's FIN means, once what came before it has been read (where a drive's
// loop would end). Before the handshake completed, after our own close began, or after the
// peer's close_notify, the EOF goes to the engine at once (a failed handshake, the end of a
// bye, the orderly end of the peer's side): one more round reads it, and TCP closes after the
// drive. Otherwise the stream is truncated: the application is told once it has taken every
// byte received, and once its answer has left the engine after close(), the EOF ends the
// session with OpenSSL's alert, not a close_notify that would pass the peer's truncated stream
// off as complete.
void TlsTransport::settle_fin() {
  if (tcp_ == nullptr || admission_.waiting()) return;
  if (fin_ == Fin::truncated) {
    if (ending() && engine_->queued_plaintext() == 0) feed_fin();
    return;
  }
  if (fin_ != Fin::pending) return;
  if (app_open_ && !ending() && !engine_->is_peer_closed() && !engine_->is_closed()) {
    if (engine_->has_buffered_input()) return;  // paused or yielded: the next drive decides
    fin_ = Fin::truncated;
    if (!error_)
      error_ = std::make_unique<reactor::Error>(Errc::stream_truncated, "read",
                                                "the peer closed without close_notify");
    app_call([&] { app_->on_peer_closed(*this); });
    return;
  }
  feed_fin();
  fin_ = Fin::feeding;
}

void TlsTransport::feed_fin() {
  fin_ = Fin::fed;
  engine_->feed_eof();
  drive_ = Drive::again;
}

void TlsTransport::close_after_fin() {
  fin_ = Fin::fed;
  if (tcp_ != nullptr && !tcp_->is_closing() && (ending() || !engine_->is_peer_closed()))
    tcp_->close();
}

void TlsTransport::on_server_stopping(reactor::Connection& tcp) {
  if (app_open_)
    app_call([&] { app_->on_server_stopping(*this); });
  else
    tcp.close();  // a handshake still in progress is not worth waiting for
}

void TlsTransport::on_close(reactor::Connection& tcp, const reactor::Error& error) {
  (void)tcp;
  tcp_ = nullptr;
  if (deadline_) deadline_->stop();
  job_retry_.reset();
  admission_.cancel();
  // Our own reason (a TLS failure, the handshake deadline) explains the end better than what
  // the TCP layer saw while closing.
  const reactor::Error& reason = error_ ? *error_ : error;
  if (app_) app_->on_close(*this, reason);
}

// ---- exceptions ----------------------------------------------------------------------------

// Every call into the application goes through here, so that what it throws ends this one
// connection (as Stream::up_call does for a plain TCP handler) and never unwinds through the
// engine or a drive: the drive that made the call finishes its round with the connection
// closing, and its Drive state is left as on any other return.
template <typename Fn>
void TlsTransport::app_call(Fn&& fn) noexcept {
  try {
    fn();
  } catch (...) {
    app_threw();
  }
}

void TlsTransport::app_threw() noexcept {
  const reactor::Error failure = reactor::handler_failure();
  reactor::log::error("handler threw: " + failure.context() + "; aborting " +
                      peer_address().to_string());
  // The handler's failure is why the connection ends, whatever end was already under way.
  error_ = std::make_unique<reactor::Error>(failure);
  end_to(Close::closing);
  if (tcp_ != nullptr) tcp_->abort();
}

// Entries from the loop that are not the TCP connection's (posted wake-ups, admission, async
// fds, timers): the handler's exceptions are caught in app_call, but anything else thrown in a
// drive (memory) must not leave it marked as running, or the connection would stall.
template <typename Fn>
void TlsTransport::loop_call(Fn&& fn) noexcept {
  try {
    fn();
  } catch (...) {
    drive_ = Drive::idle;
    app_threw();
  }
}

// ---- driving the engine ------------------------------------------------------------------

// The one drive loop (asio's io.hpp shape): advance the engine, act on what it produced, and go
// round again while that, or an application callback made from inside the loop, asks for more.
// A drive asked for while one runs is one more round of it, never a nested drive: the
// application's callbacks (through the sink, act() and settle_fin()) are made from this loop,
// and on_drain after it.
void TlsTransport::drive(Caller caller) {
  if (drive_ != Drive::idle) {
    drive_ = Drive::again;
    return;
  }
  ScratchLease scratch(*per_loop_);
  do {
    drive_ = Drive::running;
    if (tcp_ == nullptr) break;
    const std::size_t queued = tcp_->stats().queued_bytes;
    // Encrypt no more than fills the TCP queue to the high-water mark: its on_drain asks for
    // the rest, and a large write never sits in memory twice.
    const std::size_t budget = queued < limits_.high ? limits_.high - queued : 0;
    act(engine_->advance(*this, scratch.span(), budget));
    // Where the loop would end, what came before the peer's FIN has been read.
    if (drive_ == Drive::running && fin_ != Fin::none) settle_fin();
  } while (drive_ == Drive::again);
  drive_ = Drive::idle;
  if (in_async_job_ && !engine_->job_paused()) {
    in_async_job_ = false;
    job_released(*per_loop_);
  }
  if (parked_as_ != Want::nothing && engine_->parked() == Want::nothing) parked_as_ = Want::nothing;
  if (options_.release_buffers_after.count() > 0 && tcp_ != nullptr) {
    touch(*loop_, options_.release_buffers_after);
    // Until a second record arrives within a quiet period the connection is not known to be
    // busy (a client that makes one request and waits, or none): it gives its buffers back at
    // once, before they pile up among other connections' memory.
    if (records_since_quiet_ < 2 && engine_->is_handshake_done()) (void)engine_->release_buffers();
  }
  update_reading();
  // A write() made inside an application callback during this drive could only guess; now
  // the bytes are where they are. Not for a drive the application asked for (write, resume,
  // ...): on_drain must not run re-entrantly inside the call that caused it.
  if ((above_high_ || drain_requested_) && caller == Caller::loop && tcp_ != nullptr && !ending()) {
    const std::size_t held = buffered();
    bool owed = false;
    if (above_high_ && held <= limits_.low) {
      above_high_ = false;
      owed = true;
    }
    if (drain_requested_ && held <= drain_at_) {
      drain_requested_ = false;
      owed = true;
    }
    if (owed) app_call([&] { app_->on_drain(*this); });
  }
  if (fin_ == Fin::feeding) close_after_fin();  // the EOF the loop gave the engine has been read
}

// What one advance() produced, acted on: ciphertext to TCP, events to the application, our
// FIN behind our close_notify, parks to the loop, and another round while plaintext waits for
// room that is there.
void TlsTransport::act(const Progress& progress) {
  if (progress.output) flush();
  bool failed = false;
  if (progress.events) {
    failed = on_events();
    flush();  // what the application wrote from on_open or on_peer_closed
  }
  if (!failed && tcp_ != nullptr) {
    if (engine_->close_notify_sent() && !fin_sent()) after_close_notify({});
    if (engine_->is_closed() && tcp_ != nullptr && !tcp_->is_closing()) tcp_->close();
  }
  const Want want = progress.want;
  if (want == Want::output) drive_ = Drive::again;  // only with a bounded output BIO
  if (want != parked_as_ && (want == Want::async || want == Want::async_job)) park(want);
  // A call made in async mode took one of the pool's jobs; unless it paused, the job is
  // back in the pool now, and the first connection waiting for one may have it.
  if (progress.async_call && !engine_->job_paused() && !in_async_job_) wake_job_waiter(*per_loop_);
  if (progress.queued && engine_->is_handshake_done() && !progress.closed() && tcp_ != nullptr &&
      tcp_->stats().queued_bytes < limits_.high)
    drive_ = Drive::again;
}

void TlsTransport::flush() {
  // Alerts, tickets, KeyUpdate replies and renegotiation messages come out of reads too, so
  // this runs after every engine step, not only after writes.
  bool wrote = false;
  while (tcp_ != nullptr) {
    const auto out = engine_->peek_output();
    if (out.empty()) break;
    // Nothing follows a close_notify: the FIN can go in the same segment as its last bytes.
    if (engine_->close_notify_sent() && !fin_sent() && out.size() == engine_->output_size()) {
      after_close_notify(out);
      engine_->consume_output(out.size());
      wrote = true;
      break;
    }
    tcp_->write(out);
    engine_->consume_output(out.size());
    wrote = true;
  }
  // Backpressure is this layer's (above_high_, towards the application): TCP's write() result
  // is not looked at; what this flush left queued in TCP asks to be told when the queue is down
  // to `low` (or the application's own request_drain size), when there is room to encrypt more.
  if (wrote && tcp_ != nullptr && tcp_->stats().queued_bytes > 0)
    tcp_->request_drain(drain_threshold());
}

// The TCP queue size at which this layer wants its on_drain: `low`, or lower for the
// application's own request.
std::size_t TlsTransport::drain_threshold() const {
  return drain_requested_ ? std::min(drain_at_, limits_.low) : limits_.low;
}

// The engine's events, told to the application. True when the engine failed: the connection
// is closing with its reason.
bool TlsTransport::on_events() {
  if (tcp_ == nullptr) return false;
  const unsigned events = engine_->take_events();
  if ((events & Engine::handshake_done) != 0 && !app_open_) open_app();
  if ((events & Engine::peer_closed) != 0 && tcp_ != nullptr) {
    if (ending())
      tcp_->close();  // the close_notify we waited for
    else if (app_open_)
      app_call([&] { app_->on_peer_closed(*this); });
  }
  if ((events & Engine::failed) != 0 && tcp_ != nullptr) {
    const TlsError& e = engine_->error();
    // After our own close_notify a peer that just hangs up has lost us nothing.
    if (ending() && e.code == Errc::stream_truncated) {
      tcp_->close();
    } else {
      if (e.code == Errc::renegotiation_limit || e.code == Errc::key_update_limit)
        reactor::log::warn("closing " + tcp_->peer_address().to_string() + ": " + e.message());
      fail_with(to_reactor(e));
    }
    return true;
  }
  return false;
}

void TlsTransport::open_app() {
  app_open_ = true;
  deadline_->stop();  // the handshake deadline is met
  engine_->set_handshake_time(std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - opened_at_));
  app_call([&] { app_->on_open(*this); });
}

void TlsTransport::after_close_notify(std::span<const std::byte> last) {
  end_to(ending() ? Close::bye : Close::half_closed);
  tcp_->write_last(last);                    // FIN right behind the close_notify
  if (close_ == Close::bye) wait_for_bye();  // otherwise a half-close: the peer may go on sending
}

void TlsTransport::end_to(Close to) noexcept {
  if (to == Close::closing && fin_sent()) to = Close::bye;  // a FIN cannot be taken back
  if (to > close_) close_ = to;
}

void TlsTransport::wait_for_bye() {
  deadline_->start(options_.bye_timeout);
}

// The one deadline on the loop's wheel: the handshake's until the application is open, then,
// once our close_notify is out, the wait for the peer's.
void TlsTransport::on_time_limit() {
  if (tcp_ == nullptr) return;
  if (app_open_) {
    tcp_->close();  // the peer never answered our close_notify; close without its notify
    return;
  }
  error_ = std::make_unique<reactor::Error>(
      Errc::handshake_timeout, "handshake",
      "no handshake within " + std::to_string(options_.handshake_timeout.count()) + " ms");
  end_to(Close::closing);
  tcp_->abort();
}

void TlsTransport::fail_with(const reactor::Error& error) {
  if (!error_) error_ = std::make_unique<reactor::Error>(error);
  end_to(Close::closing);
  flush();  // the alert that tells the peer why
  if (tcp_ != nullptr) tcp_->close();
}

void TlsTransport::update_reading() {
  if (tcp_ == nullptr || tcp_->is_closing()) return;
  // The handshake always reads; application data only while the application wants it. A
  // parked engine, or one waiting for admission, makes no SSL call, so what arrives meanwhile is
  // only buffered, up to a cap.
  const bool held = engine_->parked() != Want::nothing || admission_.waiting();
  const bool parked_full = held && engine_->buffered_input() > parked_input_cap;
  if (((app_paused_ || yielded_) && engine_->is_handshake_done()) || parked_full)
    tcp_->pause_reading();
  else
    tcp_->resume_reading();
}

// ---- memory while quiet --------------------------------------------------------------------

// Giving the record buffers back after every record (SSL_MODE_RELEASE_BUFFERS) costs a busy
// connection an allocation per record; holding them for ever costs an idle one 34 KiB. In
// between: they go back once the connection has been quiet for a while.
void TlsTransport::on_idle() noexcept {
  if (tcp_ == nullptr) return;
  records_since_quiet_ = 0;
  // A record still partly inside (the rest not arrived, or the application paused) keeps them:
  // look again after another quiet period.
  if (!engine_->release_buffers()) return touch(*loop_, options_.release_buffers_after);
  // Freed among other connections' live blocks, the buffers' pages would stay resident. Asked
  // only here, once a connection has gone quiet: under connection churn (short connections
  // that never go quiet) a trim every second measurably slowed handshakes, its freed pages
  // being faulted back in at once.
  loop_->trim_memory_soon();
}

// ---- admission: a bounded number of handshake steps per loop turn ------------------------

// A burst of new connections must not keep the loop in cryptography for long: established
// connections are served between admitted steps. A step already under way (unparked, or after
// the handshake) is not asked again.
bool TlsTransport::admit_handshake_step() {
  if (engine_->is_handshake_done() || engine_->parked() != Want::nothing || loop_ == nullptr)
    return true;
  return admission_.admit(*loop_, options_.handshakes_per_turn);
}

void TlsTransport::on_admitted() {
  if (tcp_ == nullptr) return;
  drive();
}

// ---- parked on something outside the TLS stack --------------------------------------------

void TlsTransport::park(Want want) {
  parked_as_ = want;
  if (want == Want::async) {
    if (!in_async_job_) {
      in_async_job_ = true;
      ++per_loop_->jobs_held;
    }
    watch_async_fds();
    return;
  }
  // WANT_ASYNC_JOB: every job of this thread is taken. The next one to finish wakes the first
  // waiter; if none of them is ours to wait for, try again shortly (bounded by the handshake
  // timeout), never in a busy loop.
  per_loop_->job_waiters.push_back(alive_);
  // The wheel's tick (100 ms) is fine enough for this rare case: a pool emptied by jobs that
  // are not this loop's connections' (another loop on the thread, or code outside tlsreactor).
  if (per_loop_->jobs_held == 0 && tcp_ != nullptr) {
    if (!job_retry_)
      job_retry_ = std::make_unique<reactor::WheelTimer>(
          *loop_, [this] { loop_call([this] { unpark(); }); });
    job_retry_->start(std::chrono::milliseconds(1));
  }
}

void TlsTransport::watch_async_fds() {
  if (tcp_ == nullptr) return;
  for (int fd : engine_->async_fds()) {
    auto it = std::find_if(async_polls_.begin(), async_polls_.end(),
                           [&](auto& p) { return p->fd() == fd; });
    if (it == async_polls_.end()) {
      async_polls_.push_back(std::make_unique<reactor::Poll>(tcp_->loop(), fd));
      it = std::prev(async_polls_.end());
    }
    if (const reactor::Error e =
            (*it)->start(reactor::Poll::readable,
                         [this](int, const reactor::Error&) { loop_call([this] { unpark(); }); })) {
      fail_with(reactor::Error(Errc::internal, "async", e.message()));
      return;
    }
  }
}

void TlsTransport::unpark() {
  if (job_retry_) job_retry_->stop();
  parked_as_ = Want::nothing;
  for (auto& poll : async_polls_) poll->stop();
  if (engine_->parked() == Want::nothing) return;
  engine_->resume();
  drive();  // re-issues the very SSL call that parked
}

void TlsTransport::job_released(TransportLoopState& state) {
  if (state.jobs_held > 0) --state.jobs_held;
  wake_job_waiter(state);
}

void TlsTransport::wake_job_waiter(TransportLoopState& state) {
  while (!state.job_waiters.empty()) {
    const auto next = state.job_waiters.front().lock();
    state.job_waiters.pop_front();
    if (next && (*next)->engine_ && (*next)->engine_->parked() == Want::async_job) {
      (*next)->loop_call([&] { (*next)->unpark(); });
      return;
    }
  }
}

bool TlsTransport::plaintext(std::span<const std::byte> data) {
  if (!app_open_) open_app();  // data in the same flight as the handshake's last message
  if (ending() || tcp_ == nullptr) return true;  // after close(), received data is dropped
  plaintext_read_ += data.size();
  delivered_since_yield_ += data.size();
  if (records_since_quiet_ < 2) ++records_since_quiet_;
  app_call([&] { app_->on_data(*this, data); });
  if (options_.max_plaintext_per_turn != 0 &&
      delivered_since_yield_ >= options_.max_plaintext_per_turn && !ending()) {
    yield_turn();
    return false;
  }
  return !app_paused_ && !ending();
}

// One fast peer must not keep the loop to itself: the rest of its records wait (in the engine,
// and in the kernel while reading is off) until the loop has been round once.
void TlsTransport::yield_turn() {
  if (yielded_ || loop_ == nullptr) return;
  yielded_ = true;
  loop_->post([alive = std::weak_ptr<TlsTransport*>(alive_)] {
    if (const auto transport = alive.lock())
      (*transport)->loop_call([&] { (*transport)->end_yield(); });
  });
}

void TlsTransport::end_yield() {
  yielded_ = false;
  delivered_since_yield_ = 0;
  if (tcp_ == nullptr) return;
  if (engine_->has_buffered_input() && !app_paused_)
    drive();
  else
    update_reading();
}

void TlsTransport::over_cap(std::size_t refused) {
  const std::string why = std::to_string(buffered()) + " bytes buffered, " +
                          std::to_string(refused) + " more refused, cap " +
                          std::to_string(options_.max_buffered);
  reactor::log::warn("aborting " + tcp_->peer_address().to_string() + ": write queue full (" + why +
                     ")");
  if (!error_)
    error_ = std::make_unique<reactor::Error>(reactor::Errc::write_queue_full, "write", why);
  end_to(Close::closing);
  tcp_->abort();
}

std::size_t TlsTransport::buffered() const {
  return engine_->queued_plaintext() + (tcp_ != nullptr ? tcp_->stats().queued_bytes : 0);
}

// ---- the application side ----------------------------------------------------------------

bool TlsTransport::write(std::span<const std::byte> data) {
  if (tcp_ == nullptr || close_ != Close::open || engine_->is_closed()) return false;
  // Past the cap already: the application ignored write() returning false (as in the TCP
  // layer, one large write below the cap is taken whole).
  if (options_.max_buffered != 0 && !data.empty() && buffered() > options_.max_buffered) {
    over_cap(data.size());
    return false;
  }
  // Encrypted from the caller's bytes at once where the engine can (no queued copy), within
  // the budget drive() would give: up to the TCP queue's high-water mark.
  const std::size_t held = tcp_->stats().queued_bytes + engine_->output_size();
  engine_->write_now(data, held < limits_.high ? limits_.high - held : 0);
  plaintext_written_ += data.size();
  peak_buffered_ = std::max(peak_buffered_, buffered());
  // Written from inside a drive (a response from on_data): that drive flushes the ciphertext
  // once its engine step returns, so another round is needed only for queued plaintext or an
  // event (a failed write), or for a write from outside a drive (a timer, say).
  if (engine_->is_handshake_done() &&
      (drive_ == Drive::idle || engine_->queued_plaintext() > 0 || engine_->has_events()))
    drive(Caller::app);
  if (buffered() > limits_.high) above_high_ = true;
  return !above_high_;
}

void TlsTransport::shutdown() {
  if (tcp_ == nullptr || close_ != Close::open) return;
  end_to(Close::half_closing);
  engine_->close();
  drive(Caller::app);
}

void TlsTransport::close() {
  if (tcp_ == nullptr || ending()) return;
  end_to(Close::closing);
  if (!engine_->is_handshake_done() || engine_->is_closed()) {
    tcp_->close();
    return;
  }
  if (engine_->close_notify_sent()) {  // after shutdown(): only the bye wait is left
    wait_for_bye();
    return;
  }
  if (fin_ != Fin::truncated) engine_->close();  // truncated: the EOF follows the answer (drive)
  drive(Caller::app);
}

void TlsTransport::abort() {
  if (tcp_ == nullptr) return;
  end_to(Close::closing);
  tcp_->abort();
}

void TlsTransport::pause_reading() {
  app_paused_ = true;
  update_reading();
}

void TlsTransport::resume_reading() {
  app_paused_ = false;
  // Records already inside the engine are delivered now (or after a yield, on the next turn);
  // new ones as the socket brings them.
  if (engine_->has_buffered_input() && !yielded_)
    drive(Caller::app);
  else
    update_reading();
}

void TlsTransport::set_idle_timeout(std::chrono::milliseconds timeout) {
  if (tcp_ != nullptr) tcp_->set_idle_timeout(timeout);
}

void TlsTransport::set_write_limits(reactor::WriteLimits limits) {
  limits_ = limits;
}

void TlsTransport::request_drain(std::size_t queued) {
  // Ciphertext still in the engine counts: a drive flushes it to TCP right after this call.
  drain_requested_ = buffered() + engine_->output_size() > 0;
  drain_at_ = queued;
  if (drain_requested_ && tcp_ != nullptr && tcp_->stats().queued_bytes > 0)
    tcp_->request_drain(drain_threshold());
}

reactor::Address TlsTransport::peer_address() const {
  return tcp_ != nullptr ? tcp_->peer_address() : reactor::Address();
}

reactor::Address TlsTransport::local_address() const {
  return tcp_ != nullptr ? tcp_->local_address() : reactor::Address();
}

reactor::ConnectionStats TlsTransport::stats() const {
  reactor::ConnectionStats s;
  s.bytes_read = plaintext_read_;
  s.bytes_written = plaintext_written_;
  s.queued_bytes = buffered();
  s.peak_queued_bytes = peak_buffered_;
  return s;
}

bool TlsTransport::is_closing() const {
  return ending() || tcp_ == nullptr || tcp_->is_closing();
}

reactor::Loop& TlsTransport::loop() const {
  return tcp_->loop();
}

// ---- entry points ------------------------------------------------------------------------

const TlsInfo* info(const reactor::Connection& conn) noexcept {
  const auto* transport = dynamic_cast<const TlsTransport*>(&conn);
  return transport != nullptr ? &transport->info() : nullptr;
}

reactor::HandlerFactory server_factory(std::shared_ptr<const Context> context,
                                       reactor::HandlerFactory app, TransportOptions options) {
  return [context = std::move(context), app = std::move(app),
          options]() -> std::unique_ptr<reactor::Handler> {
    auto handler = app();
    if (!handler) return nullptr;
    return std::make_unique<TlsTransport>(context, EngineOptions{}, std::move(handler), options);
  };
}

void connect(reactor::Loop& loop, const reactor::HostPort& target,
             std::shared_ptr<const Context> context, std::unique_ptr<reactor::Handler> app,
             reactor::ConnectOptions connect_options, TransportOptions options) {
  EngineOptions engine_options;
  engine_options.host = target.host;
  engine_options.port = target.port;
  reactor::TcpConnector(loop, connect_options)
      .connect(target, std::make_unique<TlsTransport>(std::move(context), engine_options,
                                                      std::move(app), options));
}

}  // namespace tls
