// The load client's one SSL_CTX and, with --resume, the tickets it offers to new connections.
#pragma once

#include <deque>
#include <string>

#include "bench/tls_load/Options.hpp"
#include "tls/Ptr.hpp"

namespace bench::tls_load {

// Tickets the server issued, each offered once while fresh ones last (a server with a stateful
// cache honours a ticket only once); when none is fresh a copy of the newest is offered again
// (stateless tickets, the common case, resume any number of times).
//
// The pool keeps copies, and hands out objects no connection shares: when a TLS 1.3 connection
// receives a ticket, OpenSSL marks the session that connection held so far as not resumable,
// which would silently turn later offers of that very object into full handshakes.
class SessionPool {
 public:
  void add(const SSL_SESSION* session);
  // A session to offer, or nullptr while the server has issued none yet.
  tls::SessionPtr take();

 private:
  static constexpr std::size_t capacity = 1024;
  std::deque<tls::SessionPtr> fresh_;
  tls::SessionPtr newest_;
};

class ClientTls {
 public:
  // nullptr context() and a reason in `error` when the options cannot be applied.
  ClientTls(const Options& options, std::string& error);
  ClientTls(const ClientTls&) = delete;
  ClientTls& operator=(const ClientTls&) = delete;

  // A new client SSL on `fd` with SNI set and, with --resume, a session offered when one is
  // known. `offered` says whether it was. nullptr when OpenSSL runs out of memory.
  tls::SslPtr new_ssl(int fd, bool& offered);

  SSL_CTX* context() const { return ctx_.get(); }

 private:
  static int on_new_session(SSL* ssl, SSL_SESSION* session) noexcept;
  static int accept_any_chain(X509_STORE_CTX* store, void* arg) noexcept;

  tls::SslCtxPtr ctx_;
  SessionPool sessions_;
  std::string sni_;
  bool resume_ = false;
  bool verify_ = false;
};

}  // namespace bench::tls_load
