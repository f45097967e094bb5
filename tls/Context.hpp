// tls::Context: the immutable TLS policy shared by many connections (an SSL_CTX and what goes
// with it: certificates by SNI, ALPN, session resumption, ticket keys, verification).
// OpenSSL only: no libuv, no reactor.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "reactor/Error.hpp"
#include "tls/Errors.hpp"
#include "tls/Hooks.hpp"
#include "tls/Ptr.hpp"
#include "tls/WorkerPool.hpp"

namespace tls {

class Signer;

/// A certificate chain (leaf first, PEM) and its private key (PEM).
struct CertificateFiles {
  /// Path of the PEM chain, leaf first; read when the Context is made (a reload makes a new
  /// Context).
  std::string cert_file;
  std::string key_file;  ///< may be empty when `signer` holds the key (keyless TLS, an HSM)
  /// Private-key operations for this certificate go to the signer, off the loop (see
  /// tls/Signer.hpp). Server certificates only.
  std::shared_ptr<Signer> signer = nullptr;
};

enum class ClientAuth { none, request, require };

/// What a server tolerates of each client's post-handshake messages (see ServerConfig).
struct PeerLimits {
  /// TLS 1.2 renegotiations a client may start per minute.
  unsigned renegotiations_per_minute = 3;
  /// TLS 1.3 KeyUpdate messages a client may send per minute.
  unsigned key_updates_per_minute = 10;
};

/// What Context::server() builds a server Context from; read once, during that call (files
/// included), so the config may die right after.
struct ServerConfig {
  /// The first is the default; others are chosen by SNI against their subjectAltName DNS names
  /// (exact, or a "*." wildcard covering one label) and, without SANs, the subject CN.
  std::vector<CertificateFiles> certificates;
  /// Refuse (unrecognized_name alert) a ClientHello whose SNI matches no certificate. A
  /// ClientHello without SNI still gets the default.
  bool strict_sni = false;
  /// ALPN protocols in server preference order ("h2", "http/1.1"). Empty: no ALPN. A client
  /// offering none of them is refused (no_application_protocol); a client that sends no ALPN
  /// extension at all is served without one.
  std::vector<std::string> alpn;

  int min_version = TLS1_2_VERSION;  ///< TLS 1.2 minimum by default
  int max_version = 0;               ///< 0: the newest (TLS 1.3)
  std::string ciphers;               ///< TLS <= 1.2 list; empty: the secure default below
  std::string ciphersuites;          ///< TLS 1.3 suites; empty: OpenSSL's (all AEAD)
  std::string groups;                ///< empty: "X25519:P-256:X448:P-384:P-521"

  /// Resumption: TLS 1.3 tickets, TLS 1.2 tickets and the TLS 1.2 server-side session cache.
  /// Without tickets, TLS 1.3 still resumes through "stateful" tickets (a session ID in this
  /// Context's cache), which other Contexts and processes cannot resume.
  bool session_tickets = true;
  std::size_t session_cache_size = 20480;       ///< sessions in this Context's cache; 0: no cache
  std::chrono::seconds session_lifetime{3600};  ///< also the ticket lifetime hint
  /// nginx ssl_session_ticket_key files (80 or 48 random bytes each, nginx's layout: a file
  /// works the same here and in nginx). The first encrypts new tickets, all decrypt; a ticket
  /// under a later key is replaced by one under the first. Empty: a random key, private to this
  /// Context. Contexts with the same certificates, client CAs and key files resume each other's
  /// sessions (TLS 1.2 and 1.3).
  std::vector<std::string> ticket_key_files;
  /// TLS 1.3 tickets sent after each full handshake (OpenSSL's default is 2).
  int tickets_per_handshake = 1;

  /// Whether to ask for a client certificate (request) or refuse a handshake without one (require).
  ClientAuth client_auth = ClientAuth::none;
  std::string client_ca_file;  ///< required unless client_auth is none
  /// Longest client chain accepted, intermediates counted, as nginx's ssl_verify_depth.
  int verify_depth = 5;

  /// OpenSSL 3 refuses client-initiated renegotiation; this allows it (TLS 1.2 only).
  bool allow_client_renegotiation = false;
  /// Per connection and minute: renegotiations the client starts (TLS 1.2, allowed or refused)
  /// and KeyUpdates it sends (TLS 1.3). One more fails the connection
  /// (Errc::renegotiation_limit, Errc::key_update_limit). 0: no limit.
  PeerLimits peer_limits{};

  /// NSS key log (SSLKEYLOGFILE format), for debugging with Wireshark. Empty: off. Enabling it
  /// logs a loud warning: whoever reads the file can decrypt the traffic.
  std::string keylog_file;

  /// Asynchronous decisions (tls/Hooks.hpp); each parks the handshake until the application
  /// answers through its handle, from any thread. Empty: not asked.
  /// Every ClientHello, before anything is chosen (SSL_ERROR_WANT_CLIENT_HELLO_CB): serve it from
  /// another Context (multi-tenant certificates, see tls/CertificateDirectory.hpp), go on with
  /// this one, or refuse it with an alert.
  std::function<void(const ClientHello&, HelloDecision)> on_client_hello;
  /// Which certificate to present, once SNI has been seen (SSL_ERROR_WANT_X509_LOOKUP): e.g. one
  /// loaded or renewed elsewhere. Not asked on resumption.
  std::function<void(const CertificateRequest&, CertificateChoice)> on_certificate;

  /// Run every certificate's private-key operations on the built-in worker pool (PoolSigner)
  /// instead of on the loop: a full RSA-4096 signature no longer stalls every other
  /// connection of the loop. Certificates with their own `signer` use that one.
  bool offload_private_key = false;
  /// The threads for offloaded signatures and CertificateDirectory's loads. Null: the Context
  /// (or directory) starts its own, one thread per core, stopped when the last user is gone. An
  /// application that reloads names one pool here each time, so a reload does not restart them.
  std::shared_ptr<WorkerPool> workers;
};

/// What Context::client() builds a client Context from; read once, during that call.
struct ClientConfig {
  bool verify = true;             ///< verify the server's chain and name; off only with a warning
  std::string ca_file;            ///< empty: the system store
  std::vector<std::string> alpn;  ///< offered in order
  CertificateFiles client_certificate;  ///< empty: none (for mutual TLS)
  /// Protocol versions, cipher lists and key-exchange groups, with the same meaning and
  /// defaults as ServerConfig's.
  ///@{
  int min_version = TLS1_2_VERSION;
  int max_version = 0;
  std::string ciphers;
  std::string ciphersuites;
  std::string groups;
  ///@}
  /// Cache sessions per host:port and offer them. As in OpenSSL, a session outlives only a
  /// connection that sent close_notify before SSL_free (others are marked not resumable), and a
  /// TLS 1.3 session is offered once (the server's next ticket replaces it).
  bool session_resumption = true;
  /// NSS key log for debugging, as in ServerConfig.
  std::string keylog_file;

  /// Asynchronous decisions (tls/Hooks.hpp), as in ServerConfig. Empty: not asked.
  /// A server asks for a certificate and client_certificate is empty (SSL_ERROR_WANT_X509_LOOKUP):
  /// choose one (e.g. by the CA names the server accepts) or decline.
  std::function<void(const CertificateRequest&, CertificateChoice)> on_client_certificate;
  /// A policy of the application's on top of OpenSSL's verification (pinning, revocation),
  /// asked once per full handshake after OpenSSL's own checks of the chain and name passed
  /// (SSL_ERROR_WANT_RETRY_VERIFY; not on resumption: the session was verified when made). With
  /// verify off it is asked whatever OpenSSL found and is the whole policy (pinning a self-signed
  /// certificate). A rejection fails the handshake with a bad_certificate alert.
  std::function<void(const VerifyRequest&, VerifyDecision)> on_verify;
};

/// Thread-safety: immutable after creation, shared by connections on any loop through
/// shared_ptr<const Context>; ticket key rotation and the client session cache are internally
/// synchronised. A reload builds a new Context; connections keep the one they started with.
/// Lifetime: an SSL made from native() must not outlive its Context (its callbacks use it), so
/// whoever owns the SSL also holds the shared_ptr. Client Contexts use the SSL_CTX's info
/// callback (to keep renewed TLS 1.2 sessions); an SSL_set_info_callback on the SSL hides it.
class Context : public std::enable_shared_from_this<Context> {
 public:
  /// The Context, or an Error (code Errc::config) whose detail() names the file and OpenSSL's
  /// reason, e.g. "load certificate /etc/x/cert.pem: no start line". Any thread.
  static reactor::Result<std::shared_ptr<const Context>> server(const ServerConfig& config);
  /// The client-side Context, with the same error convention as server(). Any thread.
  static reactor::Result<std::shared_ptr<const Context>> client(const ClientConfig& config);
  ~Context();

  /// Made by server() (true) or client().
  bool is_server() const noexcept { return server_; }
  /// Whether handshakes sign through a Signer: the Engine then runs them in async mode.
  bool uses_signer() const noexcept { return uses_signer_; }
  /// The OpenSSL context, for settings this class does not wrap; change nothing on it once
  /// connections use it (other threads read it). Valid while the Context lives.
  SSL_CTX* native() const noexcept { return ctx_.get(); }
  /// Server side: the ServerConfig's peer_limits (a client Context has none: all 0).
  const PeerLimits& peer_limits() const noexcept { return peer_limits_; }

  /// Client side: readies a new SSL for a connection to host:port: SNI (not for IP literals),
  /// hostname or IP verification (when verifying), and a cached session to resume. `host` is a
  /// DNS name or an IP literal ("127.0.0.1", "::1" or "[::1]"). False (Errc::config) when the
  /// name cannot be used, e.g. "server name aaa...: ssl3 ext invalid servername" for a name
  /// over 255 bytes; the SSL must not be used then, as it would not check the name.
  [[nodiscard]] reactor::Error prepare_client(SSL* ssl, std::string_view host,
                                              std::uint16_t port) const;

  /// Server side: whether a ClientHello naming `server_name` is refused (strict SNI and no
  /// certificate for the name). The Engine uses it to name the failure.
  bool refuses_server_name(std::string_view server_name) const noexcept;

  /// Server side: replaces the ticket keys (same formats as ticket_key_files) at run time.
  /// New tickets use the first; tickets under any listed key still resume.
  reactor::Error rotate_ticket_keys(const std::vector<std::string>& files) const;

  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

 private:
  Context() = default;
  struct Impl;
  bool prepare_client(SSL* ssl, std::string_view host, std::uint16_t port, std::error_code& code,
                      std::string& message) const;
  template <typename Config, typename Build>
  static std::shared_ptr<const Context> make(bool server, const Config& config, Build build,
                                             std::error_code& code, std::string& message);

  bool server_ = false;
  bool uses_signer_ = false;
  PeerLimits peer_limits_{0, 0};
  SslCtxPtr ctx_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tls
