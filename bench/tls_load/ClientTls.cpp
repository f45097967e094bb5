#include "bench/tls_load/ClientTls.hpp"

#include <openssl/err.h>

#include "tls/Errors.hpp"

namespace bench::tls_load {

namespace {

std::string openssl_reason(const std::string& what) {
  std::string text = what;
  for (const auto& e : tls::drain_error_queue()) text += ": " + e.reason;
  return text;
}

}  // namespace

void SessionPool::add(const SSL_SESSION* session) {
  tls::SessionPtr copy(SSL_SESSION_dup(session));
  if (!copy || SSL_SESSION_is_resumable(copy.get()) == 0) return;
  if (fresh_.size() == capacity) fresh_.pop_front();
  newest_.reset(SSL_SESSION_dup(copy.get()));
  fresh_.push_back(std::move(copy));
}

tls::SessionPtr SessionPool::take() {
  if (!fresh_.empty()) {
    auto session = std::move(fresh_.back());
    fresh_.pop_back();
    return session;
  }
  return tls::SessionPtr(newest_ ? SSL_SESSION_dup(newest_.get()) : nullptr);
}

ClientTls::ClientTls(const Options& options, std::string& error)
    : ctx_(SSL_CTX_new(TLS_client_method())),
      sni_(options.sni),
      resume_(options.resume),
      verify_(!options.ca_file.empty()) {
  if (!ctx_) {
    error = openssl_reason("SSL_CTX_new");
    return;
  }
  SSL_CTX* ctx = ctx_.get();
  const int version = options.tls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  // Read whole records (and whatever follows) per read(): fewer system calls per request.
  SSL_CTX_set_read_ahead(ctx, 1);
  // A server that closes without close_notify after a response that runs until close has still
  // sent all of it; a truncated Content-Length body is caught by the ResponseReader.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);
  if (!options.cipher.empty()) {
    const int ok = options.tls12 ? SSL_CTX_set_cipher_list(ctx, options.cipher.c_str())
                                 : SSL_CTX_set_ciphersuites(ctx, options.cipher.c_str());
    if (ok != 1) {
      error = openssl_reason("--cipher " + options.cipher + " is not a cipher OpenSSL knows");
      ctx_.reset();
      return;
    }
  }
  if (verify_) {
    if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
      error = openssl_reason("--ca " + options.ca_file + " cannot be loaded");
      ctx_.reset();
      return;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    // Without --ca OpenSSL would still build and check the chain, only to ignore the result:
    // skipping it keeps that cost off the client's side of every full handshake.
    SSL_CTX_set_cert_verify_callback(ctx, &ClientTls::accept_any_chain, nullptr);
  }
  if (resume_) {
    // The client keeps the sessions itself (SessionPool); OpenSSL's client cache is unused.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &ClientTls::on_new_session);
    SSL_CTX_set_ex_data(ctx, 0, this);
  } else {
    // A TLS 1.2 server issues no ticket to a client that does not ask for one, so a full
    // handshake costs the server no ticket encryption it would never see used.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
}

int ClientTls::accept_any_chain(X509_STORE_CTX*, void*) noexcept {
  return 1;
}

int ClientTls::on_new_session(SSL* ssl, SSL_SESSION* session) noexcept {
  auto* self = static_cast<ClientTls*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), 0));
  self->sessions_.add(session);
  return 0;  // OpenSSL keeps its reference (and frees it)
}

tls::SslPtr ClientTls::new_ssl(int fd, bool& offered) {
  offered = false;
  tls::SslPtr ssl(SSL_new(ctx_.get()));
  // SSL_set_tlsext_host_name's expansion, without its C-style cast.
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 ||
      SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, sni_.data()) !=
          1)
    return nullptr;
  if (verify_ && SSL_set1_host(ssl.get(), sni_.c_str()) != 1) return nullptr;
  if (resume_) {
    if (auto session = sessions_.take()) {
      offered = SSL_set_session(ssl.get(), session.get()) == 1;
    }
  }
  return ssl;
}

}  // namespace bench::tls_load
