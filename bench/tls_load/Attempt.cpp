#include "bench/tls_load/Attempt.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tls/Errors.hpp"

namespace bench::tls_load {

namespace {

// Before each OpenSSL call whose failure we explain: an old queue entry or a stale errno (an
// EAGAIN from an earlier read) would otherwise be reported as this call's reason.
void clear_errors() {
  ERR_clear_error();
  errno = 0;
}

}  // namespace

Attempt::Status Attempt::fail(std::string reason) {
  reason_ = std::move(reason);
  step_ = Step::finished;
  return Status::failed;
}

Attempt::Status Attempt::fail_ssl(const char* what, int result) {
  const int saved_errno = errno;
  const int error = SSL_get_error(ssl_.get(), result);
  std::string reason = std::string(what) + ": ";
  const auto queued = tls::drain_error_queue();
  if (!queued.empty()) {
    reason += queued.front().reason;
  } else if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && saved_errno == 0)) {
    reason += "the server closed the connection";
  } else if (error == SSL_ERROR_SYSCALL) {
    reason += std::strerror(saved_errno);
  } else {
    reason += "SSL_get_error " + std::to_string(error);
  }
  return fail(std::move(reason));
}

Attempt::Status Attempt::start(const reactor::Address& target, const reactor::Address& source,
                               Ending ending, Clock::time_point now) {
  close();
  started_ = now;
  ending_ = ending;
  resumed_ = false;
  offered_ = false;
  reason_.clear();
  response_.reset();
  fd_ = ::socket(target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return fail(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (source.valid()) {
    // The port is chosen at connect() from the whole 4-tuple, not reserved at bind(): each
    // source address then has its own ephemeral range towards the one target.
    ::setsockopt(fd_, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd_, source.sockaddr_ptr(), source.sockaddr_len()) != 0)
      return fail("bind " + source.ip() + ": " + std::strerror(errno));
  }
  step_ = Step::connecting;
  if (::connect(fd_, target.sockaddr_ptr(), target.sockaddr_len()) != 0 && errno != EINPROGRESS)
    return fail(std::string("connect: ") + std::strerror(errno));
  return Status::pending;
}

Attempt::Status Attempt::advance(ClientTls& tls, const std::string& request,
                                 std::span<char> buffer) {
  Status status = Status::pending;
  if (step_ == Step::connecting) status = on_connected(tls);
  if (status == Status::pending && step_ == Step::handshaking) status = handshake();
  if (status == Status::pending && step_ == Step::writing) status = write_request(request);
  if (status == Status::pending && step_ == Step::reading) status = read_response(buffer);
  if (status == Status::pending && step_ == Step::draining) status = drain(buffer);
  return status;
}

Attempt::Status Attempt::on_connected(ClientTls& tls) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error == EINPROGRESS || error == EALREADY) return Status::pending;
  if (error != 0) return fail(std::string("connect: ") + std::strerror(error));
  ssl_ = tls.new_ssl(fd_, offered_);
  if (!ssl_) return fail("SSL_new: out of memory");
  step_ = Step::handshaking;
  return Status::pending;
}

Attempt::Status Attempt::handshake() {
  clear_errors();
  const int result = SSL_connect(ssl_.get());
  if (result != 1) {
    const int error = SSL_get_error(ssl_.get(), result);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Status::pending;
    return fail_ssl("handshake", result);
  }
  resumed_ = SSL_session_reused(ssl_.get()) == 1;
  step_ = Step::writing;
  return Status::pending;
}

Attempt::Status Attempt::write_request(const std::string& request) {
  clear_errors();
  const int result = SSL_write(ssl_.get(), request.data(), static_cast<int>(request.size()));
  if (result <= 0) {
    const int error = SSL_get_error(ssl_.get(), result);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Status::pending;
    return fail_ssl("writing the request", result);
  }
  step_ = Step::reading;
  return Status::pending;
}

Attempt::Status Attempt::read_response(std::span<char> buffer) {
  for (;;) {
    clear_errors();
    const int result = SSL_read(ssl_.get(), buffer.data(), static_cast<int>(buffer.size()));
    ResponseReader::State state = response_.state();
    if (result > 0) {
      state = response_.feed(buffer.first(static_cast<std::size_t>(result)));
    } else {
      const int error = SSL_get_error(ssl_.get(), result);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Status::pending;
      // A close without close_notify ends a response that runs until close just as well.
      if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && errno == 0))
        state = response_.on_close();
      else
        return fail_ssl("reading the response", result);
      ERR_clear_error();
    }
    if (state == ResponseReader::State::bad) return fail(response_.problem());
    if (state == ResponseReader::State::complete) {
      response_end_ = Clock::now();
      if (ending_ == Ending::keep_open) {
        step_ = Step::finished;
        return Status::done;
      }
      ERR_clear_error();
      SSL_shutdown(ssl_.get());
      ERR_clear_error();
      step_ = Step::draining;
      return Status::pending;
    }
  }
}

Attempt::Status Attempt::drain(std::span<char> buffer) {
  // The response is complete; whatever still comes (the server's close_notify) is not needed,
  // only the end of the stream. A reset ends it just as well.
  for (;;) {
    const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Status::pending;
    step_ = Step::finished;
    return Status::done;
  }
}

const char* Attempt::step_name() const {
  static constexpr const char* names[] = {"connecting",
                                          "in the handshake",
                                          "writing the request",
                                          "reading the response",
                                          "waiting for the server to close",
                                          "finished"};
  return names[static_cast<int>(step_)];
}

int Attempt::release_fd() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void Attempt::close() {
  ssl_.reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  step_ = Step::finished;
}

}  // namespace bench::tls_load
