// Owners for OpenSSL objects: one line per type, no raw frees anywhere else.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>

namespace tls {

/// The deleter of every OpenSSL owner below: `Fn` is the type's free function, so each owner is
/// one line and nothing frees by hand.
template <auto Fn>
struct Free {
  /// Frees `p` with `Fn` (which accepts null, as OpenSSL's free functions do).
  template <typename T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, Free<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Free<SSL_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using SessionPtr = std::unique_ptr<SSL_SESSION, Free<SSL_SESSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Free<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Free<BN_free>>;

/// Stacks own their elements too, so they need a pop_free, not a plain free.
inline void free_x509_stack(STACK_OF(X509) * s) noexcept {
  sk_X509_pop_free(s, X509_free);
}
inline void free_x509_name_stack(STACK_OF(X509_NAME) * s) noexcept {
  sk_X509_NAME_pop_free(s, X509_NAME_free);
}
using X509StackPtr = std::unique_ptr<STACK_OF(X509), Free<free_x509_stack>>;
using X509NameStackPtr = std::unique_ptr<STACK_OF(X509_NAME), Free<free_x509_name_stack>>;

}  // namespace tls
