// Asynchronous decisions inside the handshake: the application sees what the peer asked and
// answers later, from any thread, through a one-shot handle (tls/Decision.hpp). Meanwhile the
// connection is parked (Engine: Want::client_hello, Want::x509_lookup, Want::retry_verify) and
// its loop serves everyone else.
//
//   ServerConfig::on_client_hello        SSL_ERROR_WANT_CLIENT_HELLO_CB   pick a Context / reject
//   ServerConfig::on_certificate         SSL_ERROR_WANT_X509_LOOKUP       pick the certificate
//   ClientConfig::on_client_certificate  SSL_ERROR_WANT_X509_LOOKUP       pick a client certificate
//   ClientConfig::on_verify              SSL_ERROR_WANT_RETRY_VERIFY      accept / reject the peer
//
// Hooks run on the connection's thread, inside an OpenSSL callback (in async mode on a small
// fibre stack): a hook must only record what it needs, start its work (a thread, a timer posted
// to its loop, a request) and return. It must not block, and must not call into this
// connection. An exception from a hook fails the handshake.
#pragma once

#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "reactor/Error.hpp"
#include "tls/Decision.hpp"
#include "tls/Ptr.hpp"

namespace tls {

class Context;
struct CertificateFiles;

/// What a client asked for in its ClientHello (parsed from the raw extensions, bounds-checked; a
/// malformed extension reads as absent, and OpenSSL refuses the ClientHello after the decision).
struct ClientHello {
  std::string server_name;        ///< SNI host name, "" without one
  std::vector<std::string> alpn;  ///< ALPN protocols offered, in the client's order
  std::vector<int> versions;      ///< supported_versions without GREASE (TLS1_3_VERSION, ...),
                                  ///< or the legacy version alone when the extension is absent
  std::vector<int> extensions;    ///< extension types present, in the order sent
  bool has_certificate = false;   ///< the listening Context has a certificate for server_name
};

/// A certificate chain and its private key, loaded and checked to belong together; immutable and
/// shareable by any number of connections on any thread.
class Certificate {
 public:
  /// The Error's detail() names the file and the reason ("load certificate /c: No such file or
  /// directory"; code Errc::config).
  static reactor::Result<std::shared_ptr<const Certificate>> load(const CertificateFiles& files);
  /// The OpenSSL objects, owned by this Certificate and valid while it lives: the leaf, the
  /// chain after the leaf, and the private key (null when a Signer holds it). Read-only: other
  /// threads' handshakes use them.
  ///@{
  X509* leaf() const noexcept { return leaf_.get(); }
  STACK_OF(X509) * chain() const noexcept { return chain_.get(); }
  EVP_PKEY* key() const noexcept { return key_.get(); }
  ///@}
  std::string subject() const;  ///< "/CN=localhost"

 private:
  Certificate() = default;
  X509Ptr leaf_;
  X509StackPtr chain_;
  EvpPkeyPtr key_;
};

/// Which certificate to present. Server (on_certificate): asked after the ClientHello and SNI
/// were processed, before the server's certificate is sent (not on resumption). Client
/// (on_client_certificate): asked when a server requests a certificate and ClientConfig has none.
struct CertificateRequest {
  std::string server_name;            ///< server: the client's SNI; client: the name connected to
  std::vector<std::string> ca_names;  ///< client: the CAs the server accepts ("/CN=Client CA")
};

namespace detail {

struct HelloAnswer {
  enum class Kind : unsigned char { proceed, use, reject, dropped } kind = Kind::proceed;
  std::shared_ptr<const Context> context;
  int alert = 0;
  static HelloAnswer dropped() noexcept { return {Kind::dropped, nullptr, 0}; }
};

struct CertificateAnswer {
  enum class Kind : unsigned char { use, decline, dropped } kind = Kind::decline;
  std::shared_ptr<const Certificate> certificate;
  static CertificateAnswer dropped() noexcept { return {Kind::dropped, nullptr}; }
};

struct VerifyAnswer {
  enum class Kind : unsigned char { accept, reject, dropped } kind = Kind::reject;
  std::string reason;
  static VerifyAnswer dropped() noexcept { return {Kind::dropped, {}}; }
};

}  // namespace detail

/// The answer to on_client_hello. Dropping every copy unanswered fails the handshake
/// (internal_error alert).
class HelloDecision : public Decision<detail::HelloAnswer> {
 public:
  using Decision::Decision;
  /// Serve this connection from `context` (another server Context): its certificates, ALPN and
  /// every other policy apply from here on. A client Context or null fails the handshake. (Async
  /// mode is chosen when a connection starts: if only `context` signs through a Signer, its
  /// signature is waited for on the loop thread.)
  void use(std::shared_ptr<const Context> context) const;
  /// Continue with the listening Context (its SNI choice among its own certificates).
  void proceed() const;
  /// Fail the handshake with this alert, e.g. SSL_AD_UNRECOGNIZED_NAME (the server's error is
  /// then Errc::unrecognized_name) or SSL_AD_HANDSHAKE_FAILURE.
  void reject(int alert) const;
};

/// The answer to on_certificate (server) and on_client_certificate (client).
class CertificateChoice : public Decision<detail::CertificateAnswer> {
 public:
  using Decision::Decision;
  /// Present this certificate (server: instead of the configured ones).
  void use(std::shared_ptr<const Certificate> certificate) const;
  /// Server: keep the configured certificate. Client: send no certificate (the server decides
  /// whether that is acceptable). A server whose choice is dropped fails the handshake; a
  /// client's dropped choice declines.
  void decline() const;
};

/// What the client verified, for an asynchronous policy (pinning, revocation, transparency).
struct VerifyRequest {
  std::string host;                               ///< the name (or IP) connected to
  std::vector<std::vector<unsigned char>> chain;  ///< DER, leaf first, as OpenSSL built it
  std::string subject;                            ///< the leaf's, "/CN=localhost"
  std::vector<unsigned char> spki_sha256;         ///< SHA-256 of the leaf's SubjectPublicKeyInfo
  /// OpenSSL's own result (X509_V_OK when ClientConfig::verify is on: the hook is only asked
  /// after OpenSSL's checks passed; with verify off it is whatever OpenSSL found).
  long openssl_result = 0;
};

/// The answer to on_verify. A rejection fails the handshake with a bad_certificate alert and
/// Errc::verify_failed ("certificate verify failed: certificate rejected by the application: "
/// + reason). Dropping every copy unanswered rejects.
class VerifyDecision : public Decision<detail::VerifyAnswer> {
 public:
  using Decision::Decision;
  /// The certificate is acceptable: the handshake goes on. Any thread; first answer wins.
  void accept() const;
  /// Fails the handshake as the class comment says; `reason` ends its message. Any thread.
  void reject(std::string reason = {}) const;
};

}  // namespace tls
