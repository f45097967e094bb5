#include "reactor/Stream.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include "reactor/CallbackFailure.hpp"
#include "reactor/Log.hpp"
#include "reactor/Loop.hpp"
#include "reactor/detail/OwnedHandleImpl.hpp"
#include "reactor/detail/Platform.hpp"

namespace reactor::detail {
namespace {

// Small writes are appended to the last queued chunk up to this size, so a chatty handler
// produces few, large iovecs.
constexpr std::size_t coalesce_limit = 16 * 1024;
// At most this many chunks per uv_write: libuv copies the iovec array, keep it on its stack path
// for the common case and bounded always.
constexpr std::size_t max_iovecs = 16;

uv_stream_t* as_stream(uv_tcp_t* tcp) noexcept {
  return reinterpret_cast<uv_stream_t*>(tcp);
}
uv_handle_t* as_handle(uv_tcp_t* tcp) noexcept {
  return reinterpret_cast<uv_handle_t*>(tcp);
}

}  // namespace

template <typename Fn>
void Stream::up_call(Fn&& fn) noexcept {
  try {
    fn();
  } catch (...) {
    const Error failure = handler_failure();
    log::error("handler threw: " + failure.context() + "; aborting " + peer_.to_string());
    close_handle(failure, true);
  }
}

struct Stream::ConnectAttempt {
  HostPort target;
  bool literal = false;
  bool resolving = false;
  std::vector<Address> addresses;
  std::size_t next = 0;
  Address current;
  Error last_error;
  uv_getaddrinfo_t resolve_req{};
  uv_connect_t connect_req{};

  // "connect 127.0.0.1:9", or "connect localhost:9 (127.0.0.1:9)" when a name was resolved.
  std::string context() const {
    if (literal || !current.valid()) return "connect " + target.to_string();
    return "connect " + target.to_string() + " (" + current.to_string() + ")";
  }
};

std::shared_ptr<Stream> Stream::create(Loop& loop, std::unique_ptr<Handler> handler,
                                       const ConnectionOptions& options) {
  auto stream = std::make_shared<Stream>(loop, std::move(handler), options);
  stream->self_ = stream;
  return stream;
}

Stream::Stream(Loop& loop, std::unique_ptr<Handler> handler, const ConnectionOptions& options)
    : loop_(loop), impl_(loop.impl()), handler_(std::move(handler)), options_(options) {
  uv_tcp_init(impl_.uv(), &tcp_);
  tcp_.data = static_cast<HandleOwner*>(this);
  impl_.add(*this);
}

Stream::~Stream() {
  impl_.wheel().cancel(*this);
  impl_.remove(*this);
}

// ---- opening -------------------------------------------------------------------------------

void Stream::accepted(int status, bool has_nodelay) {
  if (status != 0) return close_handle(Error(uv_error(status), "accept"), false);
  has_nodelay_ = has_nodelay;
  open();
}

void Stream::connect(const HostPort& target, std::chrono::milliseconds timeout) {
  attempt_ = std::make_unique<ConnectAttempt>();
  attempt_->target = target;
  impl_.wheel().schedule(*this, impl_.now() + static_cast<std::uint64_t>(timeout.count()));
  if (auto literal = Address::from_ip(target.host, target.port)) {
    attempt_->literal = true;
    attempt_->addresses.push_back(*literal);
    return try_next_address();
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  const std::string port = std::to_string(target.port);
  attempt_->resolve_req.data = this;
  const int rc = uv_getaddrinfo(impl_.uv(), &attempt_->resolve_req, &Stream::on_resolved,
                                target.host.c_str(), port.c_str(), &hints);
  if (rc != 0) return connect_failed(Error(uv_error(rc), "resolve " + target.host));
  attempt_->resolving = true;
}

void Stream::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result) noexcept {
  const std::unique_ptr<addrinfo, decltype(&uv_freeaddrinfo)> list(result, &uv_freeaddrinfo);
  auto* self = static_cast<Stream*>(req->data);
  ConnectAttempt& attempt = *self->attempt_;
  attempt.resolving = false;
  if (self->state_ != State::connecting) {
    // Closed while resolving; the handle's close callback deferred the end to us.
    if (self->handle_closed_) self->finish();
    return;
  }
  if (status != 0)
    return self->connect_failed(Error(uv_error(status), "resolve " + attempt.target.host));
  for (const addrinfo* ai = result; ai != nullptr; ai = ai->ai_next)
    if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
      attempt.addresses.push_back(Address::from_sockaddr(ai->ai_addr));
  self->try_next_address();
}

void Stream::try_next_address() {
  ConnectAttempt& attempt = *attempt_;
  if (attempt.next >= attempt.addresses.size()) {
    return connect_failed(attempt.last_error
                              ? attempt.last_error
                              : Error(Errc::resolve_failed, "resolve " + attempt.target.host));
  }
  attempt.current = attempt.addresses[attempt.next++];
  attempt.connect_req.data = this;
  const int rc = uv_tcp_connect(&attempt.connect_req, &tcp_, attempt.current.sockaddr_ptr(),
                                &Stream::on_connected);
  if (rc != 0) {
    attempt.last_error = Error(uv_error(rc), attempt.context());
    if (attempt.next < attempt.addresses.size()) {
      reconnecting_ = true;  // a socket that failed to connect cannot be reused: start afresh
      uv_close(as_handle(&tcp_), &Stream::on_closed);
      return;
    }
    connect_failed(attempt.last_error);
  }
}

void Stream::on_connected(uv_connect_t* req, int status) noexcept {
  auto* self = static_cast<Stream*>(req->data);
  if (status == UV_ECANCELED || self->state_ != State::connecting) return;
  ConnectAttempt& attempt = *self->attempt_;
  if (status != 0) {
    attempt.last_error = Error(uv_error(status), attempt.context());
    if (attempt.next < attempt.addresses.size()) {
      self->reconnecting_ = true;
      uv_close(as_handle(&self->tcp_), &Stream::on_closed);
      return;
    }
    return self->connect_failed(attempt.last_error);
  }
  self->attempt_.reset();  // libuv is done with the request once its callback runs
  self->open();
}

void Stream::connect_failed(Error error) {
  close_handle(error, false);
}

void Stream::open() {
  if (!handler_) return close_handle(Error(Errc::aborted, "no handler for connection"), true);
  state_ = State::open;
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    peer_ = Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
  // Request/response protocols (and TLS handshakes) are latency-bound: no Nagle delay.
  if (!has_nodelay_) uv_tcp_nodelay(&tcp_, 1);
  if (options_.idle_timeout.count() > 0)
    touch();
  else
    impl_.wheel().cancel(*this);
  update_reading();
  up_call([&] { handler_->on_open(*this); });
}

// ---- reading -------------------------------------------------------------------------------

void Stream::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) noexcept {
  auto* self = owner_of<Stream>(handle);
  if (self == nullptr) {  // cannot happen: reading stops before the owner lets go
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(reinterpret_cast<char*>(self->impl_.read_buffer()),
                     static_cast<unsigned>(LoopImpl::read_buffer_size));
}

void Stream::on_read(uv_stream_t* handle, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = owner_of<Stream>(handle);
  if (self == nullptr || nread == 0) return;
  if (nread > 0) {
    return self->received(
        {reinterpret_cast<const std::byte*>(buf->base), static_cast<std::size_t>(nread)});
  }
  if (nread == UV_EOF) return self->peer_finished();
  // A reset while we linger after our FIN loses nothing of ours: the close already succeeded.
  const bool lingering = self->state_ == State::closing && self->fin_ == Fin::sent;
  self->close_handle(lingering ? Error() : Error(uv_error(static_cast<int>(nread)), "read"), false);
}

void Stream::received(std::span<const std::byte> data) {
  stats_.bytes_read += data.size();
  touch();
  // While closing we only drain the socket (lingering), so that unread data does not turn our
  // close into a reset that could destroy the reply still in flight to the peer.
  if (state_ == State::open) up_call([&] { handler_->on_data(*this, data); });
}

void Stream::peer_finished() {
  peer_eof_ = true;
  update_reading();
  if (state_ == State::open) {
    up_call([&] { handler_->on_peer_closed(*this); });
    maybe_finish_both_ways();
  } else if (state_ == State::closing && fin_ == Fin::sent) {
    close_handle({}, false);
  }
}

void Stream::update_reading() {
  const bool want =
      !peer_eof_ && ((state_ == State::open && !user_paused_) || state_ == State::closing);
  if (want && !reading_) {
    reading_ = uv_read_start(as_stream(&tcp_), &Stream::on_alloc, &Stream::on_read) == 0;
  } else if (!want && reading_) {
    uv_read_stop(as_stream(&tcp_));
    reading_ = false;
  }
}

void Stream::pause_reading() {
  user_paused_ = true;
  update_reading();
}

void Stream::resume_reading() {
  user_paused_ = false;
  update_reading();
}

// ---- writing -------------------------------------------------------------------------------

bool Stream::write(std::span<const std::byte> data) {
  if (state_ != State::open || fin_ != Fin::none) return false;
  if (data.empty()) return stats_.queued_bytes <= options_.limits.high;
  if (queue_.empty() && !writing_) {
    // Nothing queued: let the kernel take what it can now and copy only the rest.
    uv_buf_t buf =
        uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),
                    static_cast<unsigned>(std::min<std::size_t>(data.size(), UINT32_MAX)));
    const int n = uv_try_write(as_stream(&tcp_), &buf, 1);
    if (n > 0) {
      stats_.bytes_written += static_cast<std::size_t>(n);
      touch();
      data = data.subspan(static_cast<std::size_t>(n));
      if (data.empty()) return true;
    } else if (n != UV_EAGAIN && n != UV_ENOSYS) {
      close_handle(Error(uv_error(n), "write"), false);
      return false;
    }
  }
  // Past the cap already: this writer ignored write() returning false (one large write on a
  // queue below the cap is fine: the queue then holds at most the cap plus that write).
  if (options_.max_buffered != 0 && stats_.queued_bytes > options_.max_buffered) {
    over_cap(data.size());
    return false;
  }
  enqueue(data);
  start_write();
  if (stats_.queued_bytes > options_.limits.high) above_high_ = true;
  return !above_high_;
}

void Stream::over_cap(std::size_t refused) {
  const std::string why = std::to_string(stats_.queued_bytes) + " bytes queued, " +
                          std::to_string(refused) + " more refused, cap " +
                          std::to_string(options_.max_buffered);
  log::warn("aborting " + peer_.to_string() + ": write queue full (" + why + ")");
  close_handle(Error(Errc::write_queue_full, "write", why), true);
}

void Stream::enqueue(std::span<const std::byte> data) {
  const bool back_is_free = queue_.size() > inflight_chunks_;
  if (back_is_free && queue_.back().size() + data.size() <= coalesce_limit) {
    queue_.back().insert(queue_.back().end(), data.begin(), data.end());
  } else {
    queue_.emplace_back(data.begin(), data.end());
  }
  stats_.queued_bytes += data.size();
  stats_.peak_queued_bytes = std::max(stats_.peak_queued_bytes, stats_.queued_bytes);
}

void Stream::start_write() {
  if (writing_ || queue_.empty() || state_ == State::closed) return;
  std::array<uv_buf_t, max_iovecs> bufs{};
  std::size_t count = 0;
  std::size_t bytes = 0;
  for (; count < max_iovecs && count < queue_.size(); ++count) {
    auto& chunk = queue_[count];
    const std::size_t offset = count == 0 ? front_offset_ : 0;
    bufs[count] = uv_buf_init(reinterpret_cast<char*>(chunk.data() + offset),
                              static_cast<unsigned>(chunk.size() - offset));
    bytes += chunk.size() - offset;
  }
  if (!write_req_) write_req_ = std::make_unique<uv_write_t>();
  write_req_->data = this;
  const int rc = uv_write(write_req_.get(), as_stream(&tcp_), bufs.data(),
                          static_cast<unsigned>(count), &Stream::on_write);
  if (rc != 0) return close_handle(Error(uv_error(rc), "write"), false);
  writing_ = true;
  inflight_chunks_ = count;
  inflight_bytes_ = bytes;
}

void Stream::on_write(uv_write_t* req, int status) noexcept {
  static_cast<Stream*>(req->data)->wrote(status);
}

void Stream::wrote(int status) {
  writing_ = false;
  if (status == UV_ECANCELED) return;  // the handle is closing; its close callback follows
  if (status != 0) return close_handle(Error(uv_error(status), "write"), false);
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(inflight_chunks_));
  if (queue_.empty()) {  // idle: hold nothing (libuv is done with the request in its callback)
    std::vector<std::vector<std::byte>>().swap(queue_);
    write_req_.reset();
  }
  front_offset_ = 0;
  stats_.queued_bytes -= inflight_bytes_;
  stats_.bytes_written += inflight_bytes_;
  inflight_chunks_ = inflight_bytes_ = 0;
  touch();
  start_write();
  // One on_drain for whoever is owed one: this stream's handler refused by write(), or a layer
  // above that asked (request_drain).
  bool owed = false;
  if (above_high_ && stats_.queued_bytes <= options_.limits.low) {
    above_high_ = false;
    owed = true;
  }
  if (drain_requested_ && stats_.queued_bytes <= drain_at_) {
    drain_requested_ = false;
    owed = true;
  }
  if (owed && state_ == State::open) up_call([&] { handler_->on_drain(*this); });
  if (queue_.empty() && !writing_ && fin_ == Fin::owed && state_ != State::closed) send_fin();
}

void Stream::request_drain(std::size_t queued) {
  // Nothing queued or in flight: no write will complete to call, and there is room now.
  drain_requested_ = writing_ || !queue_.empty();
  drain_at_ = queued;
}

// ---- closing -------------------------------------------------------------------------------

void Stream::shutdown() {
  if (state_ != State::open || fin_ != Fin::none) return;
  fin_ = Fin::owed;
  if (queue_.empty() && !writing_) send_fin();
}

bool Stream::write_last(std::span<const std::byte> data) {
  if (state_ != State::open || fin_ != Fin::none) return false;
  if (data.empty() || !queue_.empty() || writing_) {
    const bool below_high = write(data);
    shutdown();
    return below_high;
  }
  // MSG_MORE (Linux; detail/Platform.hpp) holds the bytes in the kernel (TCP_NODELAY would send
  // them at once) until the shutdown(2) right after pushes them with the FIN: one segment instead
  // of two, which on a short connection is one fewer trip through the peer's TCP stack.
  uv_os_fd_t fd{};
  ssize_t n = -1;
  errno = EBADF;
  if (uv_fileno(as_handle(&tcp_), &fd) == 0) {
    do {
      n = ::send(fd, data.data(), data.size(),
                 detail::send_more_flag | detail::send_nosignal_flag | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
  }
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    close_handle(Error(uv_error(uv_translate_sys_error(errno)), "write"), false);
    return false;
  }
  const auto sent = static_cast<std::size_t>(std::max<ssize_t>(n, 0));
  if (sent > 0) {
    stats_.bytes_written += sent;
    touch();
  }
  // What the kernel did not take goes the usual way (its write pushes what MSG_MORE held); the
  // FIN follows once that has drained.
  const bool below_high = sent == data.size() || write(data.subspan(sent));
  shutdown();
  return below_high;
}

void Stream::send_fin() {
  // Called only with nothing queued and no write in flight, which is all uv_shutdown waits for;
  // shutdown(2) at once saves its deferred callback and a pair of epoll_ctl changes (POLLOUT
  // on, then off again), and lets a FIN join bytes held back by write_last().
  fin_ = Fin::sent;
  uv_os_fd_t fd{};
  int rc = uv_fileno(as_handle(&tcp_), &fd);
  if (rc == 0 && ::shutdown(fd, SHUT_WR) != 0) rc = uv_translate_sys_error(errno);
  fin_sent(rc);
}

void Stream::fin_sent(int status) {
  if (status != 0) return close_handle(Error(uv_error(status), "shutdown"), false);
  if (state_ == State::closing) {
    if (peer_eof_) return close_handle({}, false);
    update_reading();  // linger until the peer's FIN, bounded by the close deadline
  } else {
    maybe_finish_both_ways();
  }
}

// Both directions finished (our FIN acknowledged by the kernel, the peer's FIN received):
// nothing more can happen on this connection.
void Stream::maybe_finish_both_ways() {
  if (state_ == State::open && peer_eof_ && fin_ == Fin::sent) close_handle({}, false);
}

void Stream::close() {
  if (state_ == State::closing || state_ == State::closed) return;
  if (state_ == State::connecting) return close_handle(Error(Errc::aborted, "connect"), false);
  state_ = State::closing;
  if (fin_ == Fin::none) fin_ = Fin::owed;
  impl_.wheel().schedule(*this,
                         impl_.now() + static_cast<std::uint64_t>(options_.close_timeout.count()));
  update_reading();
  if (queue_.empty() && !writing_ && fin_ != Fin::sent)
    send_fin();
  else if (fin_ == Fin::sent && peer_eof_)
    close_handle({}, false);
}

void Stream::abort() {
  if (state_ != State::closed) close_handle(Error(Errc::aborted, "abort"), true);
}

void Stream::close_handle(const Error& error, bool reset) {
  if (state_ == State::closed) return;
  if (error && !error_) error_ = std::make_unique<Error>(error);
  state_ = State::closed;
  impl_.wheel().cancel(*this);
  if (reading_) uv_read_stop(as_stream(&tcp_));
  reading_ = false;
  if (attempt_ && attempt_->resolving)
    uv_cancel(reinterpret_cast<uv_req_t*>(&attempt_->resolve_req));
  if (uv_is_closing(as_handle(&tcp_))) return;  // mid-reconnect: on_closed sees state closed
  // RST only where it means something: an established socket that has not sent its FIN.
  if (reset && fin_ != Fin::sent && peer_.valid() &&
      uv_tcp_close_reset(&tcp_, &Stream::on_closed) == 0)
    return;
  uv_close(as_handle(&tcp_), &Stream::on_closed);
}

void Stream::on_closed(uv_handle_t* handle) noexcept {
  auto* self = owner_of<Stream>(handle);
  if (self == nullptr) return;  // a Stream's handle always points at it; keep the compiler sure
  if (self->reconnecting_) {
    self->reconnecting_ = false;
    if (self->state_ == State::connecting) {
      uv_tcp_init(self->impl_.uv(), &self->tcp_);
      self->tcp_.data = static_cast<HandleOwner*>(self);
      return self->try_next_address();
    }
  }
  self->handle_closed_ = true;
  self->impl_.remove(*self);
  self->queue_.clear();
  if (self->attempt_ && self->attempt_->resolving) return;  // on_resolved finishes
  self->finish();
}

void Stream::finish() noexcept {
  auto keep_alive = std::move(self_);  // released at the end of this function: last use of this
  auto handler = std::move(handler_);
  if (handler) {
    try {
      handler->on_close(*this, error_ ? *error_ : Error());
    } catch (...) {
      log_callback_failure("a handler's on_close");
    }
  }
  slot_.reset();  // may let the listener accept the next connection
}

// ---- deadlines and loop events -------------------------------------------------------------

void Stream::touch() noexcept {
  if (state_ == State::open && options_.idle_timeout.count() > 0)
    impl_.wheel().schedule(*this,
                           impl_.now() + static_cast<std::uint64_t>(options_.idle_timeout.count()));
}

void Stream::set_idle_timeout(std::chrono::milliseconds timeout) {
  options_.idle_timeout = timeout;
  if (state_ != State::open) return;
  if (timeout.count() > 0)
    touch();
  else
    impl_.wheel().cancel(*this);
}

void Stream::on_deadline() noexcept {
  switch (state_) {
    case State::connecting:
      return close_handle(Error(Errc::connect_timeout, attempt_ ? attempt_->context() : "connect"),
                          false);
    case State::open:
      error_ = std::make_unique<Error>(
          Errc::idle_timeout,
          "no traffic for " + std::to_string(options_.idle_timeout.count()) + " ms");
      return close();
    case State::closing:
      return close_handle(Error(Errc::close_timeout, "close"), true);
    case State::closed:
      return;
  }
}

void Stream::notify_server_stopping() noexcept {
  if (state_ == State::open && handler_) up_call([&] { handler_->on_server_stopping(*this); });
}

void Stream::on_loop_closing() noexcept {
  close_handle(Error(Errc::loop_closed, "loop"), true);
}

Address Stream::local_address() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
}

}  // namespace reactor::detail
