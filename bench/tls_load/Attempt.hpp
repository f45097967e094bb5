// One connection from connect() to the end of its first response, driven by socket readiness:
// TCP connect, TLS handshake, one request written, the response read. Non-blocking; the
// OpenSSL socket BIO does the reads and writes on the connection's own fd.
#pragma once

#include <chrono>
#include <string>

#include "bench/tls_load/ClientTls.hpp"
#include "bench/tls_load/ResponseReader.hpp"
#include "reactor/Address.hpp"

namespace bench::tls_load {

using Clock = std::chrono::steady_clock;

class Attempt {
 public:
  enum class Status { pending, done, failed };
  // What follows a complete response. keep_open: done at once, the connection stays up.
  // server_closes: the client sends close_notify, then done when the server's FIN arrives, so
  // the server closes first and keeps the TIME_WAIT; a client that closed first would cycle
  // through its ephemeral ports in TIME_WAIT and reuse them while the server still holds the
  // old connection, which costs a SYN retransmission (a second) now and then.
  enum class Ending { keep_open, server_closes };

  Attempt() = default;
  ~Attempt() { close(); }
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;

  // Opens a non-blocking socket (bound to `source` when it is valid) and starts connecting to
  // `target`. failed: reason() says why. The caller registers fd() for readiness after this.
  Status start(const reactor::Address& target, const reactor::Address& source, Ending ending,
               Clock::time_point now);
  // Makes as much progress as the socket allows. `buffer` is scratch for reads, shared by all.
  Status advance(ClientTls& tls, const std::string& request, std::span<char> buffer);

  // The socket, which the caller may keep after done (release_fd) once the TLS state is gone.
  int fd() const { return fd_; }
  int release_fd();
  // Frees the client's TLS state (the server is not told; the socket stays open).
  void drop_tls() { ssl_.reset(); }
  // Closes the socket and frees everything; the object may start() again.
  void close();

  Clock::time_point started() const { return started_; }
  // When the last byte of the response arrived (after done).
  Clock::time_point response_end() const { return response_end_; }
  bool resumed() const { return resumed_; }
  bool offered_session() const { return offered_; }
  const std::string& reason() const { return reason_; }
  // Where the attempt is, for a timeout message: "connecting", "handshaking", ...
  const char* step_name() const;

 private:
  enum class Step { connecting, handshaking, writing, reading, draining, finished };
  Status fail(std::string reason);
  Status fail_ssl(const char* what, int result);
  Status on_connected(ClientTls& tls);
  Status handshake();
  Status write_request(const std::string& request);
  Status read_response(std::span<char> buffer);
  Status drain(std::span<char> buffer);

  int fd_ = -1;
  tls::SslPtr ssl_;
  Step step_ = Step::finished;
  Clock::time_point started_;
  Clock::time_point response_end_;
  Ending ending_ = Ending::keep_open;
  bool resumed_ = false;
  bool offered_ = false;
  ResponseReader response_;
  std::string reason_;
};

}  // namespace bench::tls_load
