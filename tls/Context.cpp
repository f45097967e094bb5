#include "tls/Context.hpp"

#include <type_traits>

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "tls/HookState.hpp"
#include "tls/Loader.hpp"
#include "tls/SessionCache.hpp"
#include "tls/Signer.hpp"
#include "tls/SniMatch.hpp"
#include "tls/TicketKeys.hpp"

namespace tls {
namespace {

void close_file(std::FILE* f) noexcept {
  std::fclose(f);
}
using FilePtr = std::unique_ptr<std::FILE, Free<close_file>>;

void free_octets(ASN1_OCTET_STRING* s) noexcept {
  ASN1_OCTET_STRING_free(s);
}
using OctetsPtr = std::unique_ptr<ASN1_OCTET_STRING, Free<free_octets>>;

// The TLS 1.2 list when none is configured: forward secrecy and AEAD only. TLS 1.3 suites are
// all AEAD with forward secrecy already, so OpenSSL's list is kept.
constexpr const char* default_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* default_groups = "X25519:P-256:X448:P-384:P-521";

// Sets `code` and `message` to "what: OpenSSL's reason" and returns false, so that every
// failing SSL_CTX call is one line that names what it was doing.
bool fail(std::error_code& code, std::string& message, const std::string& what,
          const char* fallback = "failed") {
  code = Errc::config;
  message = what + ": " + last_reason(drain_error_queue(), fallback);
  return false;
}

bool fail_plain(std::error_code& code, std::string& message, std::string text) {
  code = Errc::config;
  message = std::move(text);
  return false;
}

std::string version_name(int version) {
  switch (version) {
    case 0:
      return "0 (the newest)";
    case TLS1_VERSION:
      return "TLS 1.0";
    case TLS1_1_VERSION:
      return "TLS 1.1";
    case TLS1_2_VERSION:
      return "TLS 1.2";
    case TLS1_3_VERSION:
      return "TLS 1.3";
  }
  return std::to_string(version);
}

// Encodes protocol names as ALPN's wire format: each name prefixed by its length.
bool alpn_wire(const std::vector<std::string>& protocols, std::string& wire, std::error_code& code,
               std::string& message) {
  wire.clear();
  for (const std::string& protocol : protocols) {
    if (protocol.empty() || protocol.size() > 255) {
      return fail_plain(code, message,
                        "ALPN protocol \"" + protocol + "\": must be 1 to 255 bytes long");
    }
    wire += static_cast<char>(protocol.size());
    wire += protocol;
  }
  return true;
}

struct Common {
  int min_version;
  int max_version;
  const std::string& ciphers;
  const std::string& ciphersuites;
  const std::string& groups;
};

// What server and client contexts share: versions, algorithms, options the Engine relies on.
bool apply_common(SSL_CTX* ctx, const Common& config, std::error_code& code, std::string& message) {
  if (SSL_CTX_set_min_proto_version(ctx, config.min_version) != 1) {
    return fail(code, message, "set minimum version " + version_name(config.min_version),
                "unsupported");
  }
  if (SSL_CTX_set_max_proto_version(ctx, config.max_version) != 1) {
    return fail(code, message, "set maximum version " + version_name(config.max_version),
                "unsupported");
  }
  const std::string& ciphers = config.ciphers.empty() ? default_ciphers : config.ciphers;
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    return fail(code, message, "set TLS 1.2 ciphers \"" + ciphers + "\"");
  }
  if (!config.ciphersuites.empty() &&
      SSL_CTX_set_ciphersuites(ctx, config.ciphersuites.c_str()) != 1) {
    return fail(code, message, "set TLS 1.3 ciphersuites \"" + config.ciphersuites + "\"");
  }
  const std::string& groups = config.groups.empty() ? default_groups : config.groups;
  if (SSL_CTX_set1_groups_list(ctx, groups.c_str()) != 1) {
    return fail(code, message, "set groups \"" + groups + "\"");
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
  // The Engine keeps an unwritten buffer and may retry from a moved copy of it, and reports
  // partial progress of large writes. No SSL_MODE_RELEASE_BUFFERS: it frees and takes again a
  // ~17 KiB record buffer for every record of a busy connection. Instead the driver gives the
  // buffers back once a connection has gone quiet (Engine::release_buffers, called by
  // TlsTransport after TransportOptions::release_buffers_after), so idle ones hold none.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return true;
}

bool use_certificate(SSL_CTX* ctx, const CertificateFiles& files, const LoadedCertificate& cert,
                     std::error_code& code, std::string& message) {
  if (SSL_CTX_use_certificate(ctx, cert.leaf.get()) != 1) {
    return fail(code, message, "use certificate " + files.cert_file);
  }
  if (SSL_CTX_set1_chain(ctx, cert.chain.get()) != 1) {
    return fail(code, message, "use certificate chain " + files.cert_file);
  }
  if (SSL_CTX_use_PrivateKey(ctx, cert.key.get()) != 1) {
    return fail(code, message, "use private key " + files.key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail(code, message,
                "certificate " + files.cert_file + " and key " + files.key_file + " do not match");
  }
  return true;
}

bool digest_into(std::string& out, X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(cert, EVP_sha256(), md, &size) != 1) return false;
  out.append(reinterpret_cast<const char*>(md), size);
  return true;
}

std::once_flag no_verify_warning;
}  // namespace

struct Context::Impl {
  // Server: one SSL_CTX per certificate, [0] the default (also Context::ctx_), and the names
  // each certificate answers to.
  std::vector<SslCtxPtr> certificates;
  std::vector<std::vector<std::string>> names;
  bool strict_sni = false;
  std::string alpn;  // server preference, wire format
  TicketKeys ticket_keys;

  // Client.
  bool verify = true;
  bool resumption = false;
  SessionCache sessions;

  std::mutex keylog_mutex;
  FilePtr keylog;

  HookSet hooks;  // the asynchronous decisions (server and client)

  static int index() noexcept {
    static const int slot = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return slot;
  }
  static Impl* of(const SSL* ssl) noexcept {
    return static_cast<Impl*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), index()));
  }

  bool attach(SSL_CTX* ctx, std::error_code& code, std::string& message) {
    if (index() < 0 || SSL_CTX_set_ex_data(ctx, index(), this) != 1) {
      return fail(code, message, "attach context data");
    }
    return true;
  }

  bool open_keylog(const std::string& path, std::error_code& code, std::string& message);
  bool build_server(Context& context, const ServerConfig& config, std::error_code& code,
                    std::string& message);
  bool build_client(Context& context, const ClientConfig& config, std::error_code& code,
                    std::string& message);

  // OpenSSL callbacks: static, noexcept, and none of them allocates through C++ code paths
  // that could throw, except where caught.
  static int on_servername(SSL* ssl, int* alert, void* arg) noexcept;
  static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                     const unsigned char* in, unsigned int inlen, void* arg) noexcept;
  static int on_ticket_key(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                           EVP_MAC_CTX* mac, int encrypt) noexcept;
  static void on_keylog(const SSL* ssl, const char* line) noexcept;
  static int on_new_session(SSL* ssl, SSL_SESSION* session) noexcept;
  static void on_info(const SSL* ssl, int where, int ret) noexcept;
};

bool Context::Impl::open_keylog(const std::string& path, std::error_code& code,
                                std::string& message) {
  // 0600: the file holds secrets that decrypt the traffic.
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    return fail_plain(code, message,
                      "open key log file " + path + ": " +
                          std::error_code(error, std::generic_category()).message());
  }
  keylog.reset(::fdopen(fd, "a"));
  if (!keylog) {
    const int error = errno;
    ::close(fd);
    return fail_plain(code, message,
                      "open key log file " + path + ": " +
                          std::error_code(error, std::generic_category()).message());
  }
  std::fprintf(stderr,
               "WARNING: TLS key logging to %s is on: anyone who can read it can decrypt this "
               "traffic\n",
               path.c_str());
  return true;
}

// SNI switches the whole SSL_CTX (SSL_set_SSL_CTX), as nginx does for its server blocks, rather
// than swapping the certificate into the SSL from a client-hello callback: every per-certificate
// SSL_CTX carries the same policy, so what a handshake sees after the switch (ALPN callback,
// client CA store, key log) is the same, and the per-connection cost is one pointer swap instead
// of copying a certificate chain and key into each SSL. Session caching and ticket keys stay on
// the first SSL_CTX, which OpenSSL keeps as the session context.
int Context::Impl::on_servername(SSL* ssl, int* alert, void* arg) noexcept {
  const auto* impl = static_cast<const Impl*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr || *name == '\0') return SSL_TLSEXT_ERR_NOACK;  // the default certificate
  const int chosen = choose_certificate(impl->names, name);
  if (chosen < 0) {
    if (!impl->strict_sni) return SSL_TLSEXT_ERR_NOACK;
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  SSL_CTX* ctx = impl->certificates[static_cast<std::size_t>(chosen)].get();
  if (SSL_get_SSL_CTX(ssl) != ctx && SSL_set_SSL_CTX(ssl, ctx) != ctx) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

// Our preference wins, not the client's order: the server knows what it serves best.
int Context::Impl::on_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
                           const unsigned char* in, unsigned int inlen, void* arg) noexcept {
  const auto* impl = static_cast<const Impl*>(arg);
  const auto* ours = reinterpret_cast<const unsigned char*>(impl->alpn.data());
  const std::size_t ours_size = impl->alpn.size();
  for (std::size_t i = 0; i < ours_size; i += 1 + std::size_t{ours[i]}) {
    const unsigned char length = ours[i];
    for (unsigned int j = 0; j < inlen && j + 1 + in[j] <= inlen; j += 1 + in[j]) {
      if (in[j] == length && std::memcmp(in + j + 1, ours + i + 1, length) == 0) {
        *out = in + j + 1;
        *outlen = length;
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // OpenSSL sends no_application_protocol
}

int Context::Impl::on_ticket_key(SSL* ssl, unsigned char* name, unsigned char* iv,
                                 EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) noexcept {
  const Impl* impl = of(ssl);
  if (impl == nullptr) return -1;
  return impl->ticket_keys.on_ticket(SSL_version(ssl) == TLS1_3_VERSION, name, iv, cipher, mac,
                                     encrypt);
}

void Context::Impl::on_keylog(const SSL* ssl, const char* line) noexcept {
  Impl* impl = of(ssl);
  if (impl == nullptr || !impl->keylog) return;
  // One line per write under the lock, so lines from connections on other loops never mix.
  const std::lock_guard lock(impl->keylog_mutex);
  std::fputs(line, impl->keylog.get());
  std::fputc('\n', impl->keylog.get());
  std::fflush(impl->keylog.get());
}

// Returns 0: the cache takes its own reference, so OpenSSL keeps and later drops its own.
int Context::Impl::on_new_session(SSL* ssl, SSL_SESSION* session) noexcept {
  Impl* impl = of(ssl);
  const std::string* key = SessionCache::key_of(ssl);
  if (impl == nullptr || key == nullptr) return 0;
  try {
    impl->sessions.store(*key, session);
  } catch (...) {
    // Out of memory: this connection's session is simply not cached.
  }
  return 0;
}

// A resumed TLS 1.2 handshake may bring a renewed ticket (the server rotated its keys), but
// OpenSSL calls the new-session callback only after full handshakes: the renewed session is
// picked up here, when the handshake is done.
void Context::Impl::on_info(const SSL* ssl, int where, int /*ret*/) noexcept {
  if ((where & SSL_CB_HANDSHAKE_DONE) == 0 || SSL_version(ssl) >= TLS1_3_VERSION ||
      SSL_session_reused(ssl) != 1) {
    return;
  }
  Impl* impl = of(ssl);
  const std::string* key = SessionCache::key_of(ssl);
  SSL_SESSION* session = SSL_get_session(ssl);
  if (impl == nullptr || key == nullptr || session == nullptr) return;
  try {
    impl->sessions.store(*key, session);
  } catch (...) {
    // Out of memory: the session already cached stays.
  }
}

bool Context::Impl::build_server(Context& context, const ServerConfig& config,
                                 std::error_code& code, std::string& message) {
  if (config.certificates.empty()) {
    return fail_plain(code, message, "a server needs at least one certificate");
  }
  if (config.client_auth != ClientAuth::none && config.client_ca_file.empty()) {
    return fail_plain(code, message,
                      "client certificates are asked for but client_ca_file is empty");
  }
  if (config.tickets_per_handshake < 0) {
    return fail_plain(code, message,
                      "tickets_per_handshake is " + std::to_string(config.tickets_per_handshake) +
                          "; it must be 0 or more");
  }
  if (config.verify_depth < 0) {
    return fail_plain(code, message, "verify_depth must be 0 or more");
  }

  strict_sni = config.strict_sni;
  if (!alpn_wire(config.alpn, alpn, code, message)) return false;
  hooks.on_client_hello = config.on_client_hello;
  hooks.on_certificate = config.on_certificate;
  hooks.names = &names;

  std::vector<LoadedCertificate> loaded(config.certificates.size());
  std::shared_ptr<WorkerPool> workers;  // made for the first offloaded certificate
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    const CertificateFiles& files = config.certificates[i];
    if (files.key_file.empty() && !files.signer) {
      return fail_plain(code, message, "certificate " + files.cert_file + " has no key file");
    }
    if (!load_certificate(files, loaded[i], message)) {
      code = Errc::config;
      return false;
    }
    std::shared_ptr<Signer> signer = files.signer;
    if (!signer && config.offload_private_key) {
      if (!workers) workers = config.workers ? config.workers : std::make_shared<WorkerPool>();
      signer = std::make_shared<PoolSigner>(std::move(loaded[i].key), workers);
    }
    if (signer) {
      auto wrapped = make_signer_key(X509_get0_pubkey(loaded[i].leaf.get()), std::move(signer));
      if (!wrapped)
        return fail_plain(code, message,
                          "certificate " + files.cert_file + ": " + wrapped.error().detail());
      loaded[i].key = std::move(wrapped).value();
      context.uses_signer_ = true;
    }
  }

  std::vector<X509Ptr> client_cas;
  X509StorePtr client_store;
  if (config.client_auth != ClientAuth::none) {
    if (!load_certificates(config.client_ca_file, "client CA file", client_cas, message)) {
      code = Errc::config;
      return false;
    }
    client_store.reset(X509_STORE_new());
    if (!client_store) return fail(code, message, "create client CA store");
    for (const X509Ptr& ca : client_cas) {
      if (X509_STORE_add_cert(client_store.get(), ca.get()) != 1) {
        return fail(code, message, "add client CA from " + config.client_ca_file);
      }
    }
  }

  TicketKeyList keys;
  if (config.ticket_key_files.empty()) {
    keys.emplace_back();
    if (!TicketKey::random(keys.back())) {
      return fail(code, message, "generate a session ticket key");
    }
  } else if (auto read = TicketKeys::load(config.ticket_key_files); !read) {
    code = read.error().code();
    message = read.error().detail();
    return false;
  } else {
    keys = std::move(read).value();
  }
  ticket_keys.set(std::move(keys));

  // Sessions resume only under the same session ID context. Deriving it from what decides
  // whether resuming is safe (the certificates, the client CAs, the client-auth mode) lets
  // Contexts built from the same files, in this process or another, resume each other's
  // sessions, and keeps a session from resuming under a different policy.
  std::string identity = "tlsreactor server";
  identity += static_cast<char>(config.client_auth);
  for (const LoadedCertificate& cert : loaded) {
    if (!digest_into(identity, cert.leaf.get())) {
      return fail(code, message, "digest certificate");
    }
  }
  for (const X509Ptr& ca : client_cas) {
    if (!digest_into(identity, ca.get())) return fail(code, message, "digest client CA");
  }
  unsigned char sid_ctx[EVP_MAX_MD_SIZE];
  unsigned int sid_ctx_size = 0;
  if (EVP_Digest(identity.data(), identity.size(), sid_ctx, &sid_ctx_size, EVP_sha256(), nullptr) !=
      1) {
    return fail(code, message, "digest session ID context");
  }
  static_assert(SSL_MAX_SID_CTX_LENGTH >= 32, "a SHA-256 digest must fit");

  if (!config.keylog_file.empty() && !open_keylog(config.keylog_file, code, message)) {
    return false;
  }

  const Common common{config.min_version, config.max_version, config.ciphers, config.ciphersuites,
                      config.groups};
  std::uint64_t options = SSL_OP_CIPHER_SERVER_PREFERENCE;
  // OpenSSL 3.0 already refuses client-initiated renegotiation (a cheap way to make a server
  // do expensive work) unless this is set. SSL_OP_NO_RENEGOTIATION is not used: it would also
  // forbid the server's own renegotiation, which the Engine offers (e.g. to ask for a client
  // certificate in TLS 1.2 after the handshake).
  if (config.allow_client_renegotiation) options |= SSL_OP_ALLOW_CLIENT_RENEGOTIATION;
  if (!config.session_tickets) options |= SSL_OP_NO_TICKET;
  int verify_mode = SSL_VERIFY_NONE;
  if (config.client_auth == ClientAuth::request) verify_mode = SSL_VERIFY_PEER;
  if (config.client_auth == ClientAuth::require) {
    verify_mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  const long cache_size = static_cast<long>(
      std::min<std::size_t>(config.session_cache_size, static_cast<std::size_t>(LONG_MAX)));

  for (std::size_t i = 0; i < loaded.size(); ++i) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) return fail(code, message, "create server SSL_CTX");
    SSL_CTX* c = ctx.get();
    if (!apply_common(c, common, code, message)) return false;
    SSL_CTX_set_options(c, options);
    if (!use_certificate(c, config.certificates[i], loaded[i], code, message)) return false;

    // A cache size of 0 means "unlimited" to OpenSSL, and "no cache" to our users.
    SSL_CTX_set_session_cache_mode(c, cache_size == 0 ? SSL_SESS_CACHE_OFF : SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(c, cache_size);
    SSL_CTX_set_timeout(c, static_cast<long>(config.session_lifetime.count()));
    if (SSL_CTX_set_session_id_context(c, sid_ctx, sid_ctx_size) != 1) {
      return fail(code, message, "set session ID context");
    }
    if (SSL_CTX_set_num_tickets(c, static_cast<std::size_t>(config.tickets_per_handshake)) != 1) {
      return fail(code, message, "set tickets per handshake");
    }
    if (config.session_tickets &&
        SSL_CTX_set_tlsext_ticket_key_evp_cb(c, &Impl::on_ticket_key) != 1) {
      return fail(code, message, "set session ticket key callback");
    }
    // The macro SSL_CTX_set_tlsext_servername_callback casts C-style; this is its expansion.
    if (SSL_CTX_callback_ctrl(c, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                              reinterpret_cast<void (*)()>(&Impl::on_servername)) != 1 ||
        SSL_CTX_set_tlsext_servername_arg(c, this) != 1) {
      return fail(code, message, "set server name callback");
    }
    if (!alpn.empty()) SSL_CTX_set_alpn_select_cb(c, &Impl::on_alpn, this);

    SSL_CTX_set_verify(c, verify_mode, nullptr);
    SSL_CTX_set_verify_depth(c, config.verify_depth);
    if (client_store) {
      SSL_CTX_set1_cert_store(c, client_store.get());
      // The names sent in CertificateRequest, so clients know which certificate to offer.
      X509NameStackPtr ca_names(sk_X509_NAME_new_null());
      if (!ca_names) return fail(code, message, "list client CA names");
      for (const X509Ptr& ca : client_cas) {
        X509_NAME* name = X509_NAME_dup(X509_get_subject_name(ca.get()));
        if (name == nullptr || sk_X509_NAME_push(ca_names.get(), name) == 0) {
          X509_NAME_free(name);
          return fail(code, message, "list client CA names");
        }
      }
      SSL_CTX_set_client_CA_list(c, ca_names.release());
    }
    if (keylog) SSL_CTX_set_keylog_callback(c, &Impl::on_keylog);
    if (!attach(c, code, message)) return false;
    if (!install_hooks(c, &hooks, code, message)) return false;

    names.push_back(certificate_names(loaded[i].leaf.get()));
    certificates.push_back(std::move(ctx));
  }

  SSL_CTX* first = certificates.front().get();
  if (SSL_CTX_up_ref(first) != 1) return fail(code, message, "reference SSL_CTX");
  context.ctx_.reset(first);
  return true;
}

bool Context::Impl::build_client(Context& context, const ClientConfig& config,
                                 std::error_code& code, std::string& message) {
  verify = config.verify;
  resumption = config.session_resumption;
  hooks.on_client_certificate = config.on_client_certificate;
  hooks.on_verify = config.on_verify;
  hooks.verify = config.verify;

  std::string offer;
  if (!alpn_wire(config.alpn, offer, code, message)) return false;
  LoadedCertificate own;
  const CertificateFiles& own_files = config.client_certificate;
  const bool has_own = !own_files.cert_file.empty() || !own_files.key_file.empty();
  if (has_own) {
    if (own_files.cert_file.empty() || own_files.key_file.empty()) {
      return fail_plain(code, message, "a client certificate needs both cert_file and key_file");
    }
    if (!load_certificate(own_files, own, message)) {
      code = Errc::config;
      return false;
    }
  }
  std::vector<X509Ptr> cas;
  if (config.verify && !config.ca_file.empty() &&
      !load_certificates(config.ca_file, "CA file", cas, message)) {
    code = Errc::config;
    return false;
  }
  if (!config.keylog_file.empty() && !open_keylog(config.keylog_file, code, message)) {
    return false;
  }

  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return fail(code, message, "create client SSL_CTX");
  SSL_CTX* c = ctx.get();
  const Common common{config.min_version, config.max_version, config.ciphers, config.ciphersuites,
                      config.groups};
  if (!apply_common(c, common, code, message)) return false;

  if (config.verify) {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    if (cas.empty()) {
      if (SSL_CTX_set_default_verify_paths(c) != 1) {
        return fail(code, message, "use the system CA store");
      }
    } else {
      X509_STORE* store = SSL_CTX_get_cert_store(c);
      for (const X509Ptr& ca : cas) {
        if (X509_STORE_add_cert(store, ca.get()) != 1) {
          return fail(code, message, "add CA from " + config.ca_file);
        }
      }
    }
  } else if (!config.on_verify) {  // with on_verify, the application's policy is the check
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    std::call_once(no_verify_warning, [] {
      std::fprintf(stderr,
                   "WARNING: TLS certificate verification is off: anyone on the path can "
                   "impersonate the server\n");
    });
  }
  // Unlike every other setter here, SSL_CTX_set_alpn_protos returns 0 on success.
  if (!offer.empty() &&
      SSL_CTX_set_alpn_protos(c, reinterpret_cast<const unsigned char*>(offer.data()),
                              static_cast<unsigned int>(offer.size())) != 0) {
    return fail(code, message, "set ALPN protocols");
  }
  if (has_own && !use_certificate(c, own_files, own, code, message)) return false;

  if (config.session_resumption) {
    // OpenSSL's internal client cache is keyed by session ID, useless for finding a session by
    // destination; ours is keyed by host:port and fed from the new-session callback.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c, &Impl::on_new_session);
    SSL_CTX_set_info_callback(c, &Impl::on_info);
  } else {
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  }
  if (keylog) SSL_CTX_set_keylog_callback(c, &Impl::on_keylog);
  if (!attach(c, code, message)) return false;
  if (!install_hooks(c, &hooks, code, message)) return false;

  context.ctx_ = std::move(ctx);
  return true;
}

// Builds a server or client Context with `build` (an Impl member), starting from empty errors.
template <typename Config, typename Build>
std::shared_ptr<const Context> Context::make(bool server, const Config& config, Build build,
                                             std::error_code& code, std::string& message) {
  code.clear();
  message.clear();
  ERR_clear_error();
  // make_shared cannot reach the private constructor; a local class can.
  struct Shared : Context {};
  auto context = std::make_shared<Shared>();
  context->server_ = server;
  context->impl_ = std::make_unique<Impl>();
  if constexpr (std::is_same_v<Config, ServerConfig>) context->peer_limits_ = config.peer_limits;
  if (!((*context->impl_).*build)(*context, config, code, message)) return nullptr;
  return context;
}

reactor::Result<std::shared_ptr<const Context>> Context::server(const ServerConfig& config) {
  std::error_code code;
  std::string message;
  if (auto made = make(true, config, &Impl::build_server, code, message)) return made;
  return reactor::Error(code, {}, std::move(message));
}

reactor::Result<std::shared_ptr<const Context>> Context::client(const ClientConfig& config) {
  std::error_code code;
  std::string message;
  if (auto made = make(false, config, &Impl::build_client, code, message)) return made;
  return reactor::Error(code, {}, std::move(message));
}

Context::~Context() {
  // The SSL_CTX goes first: nothing it might call back into during its teardown outlives Impl.
  ctx_.reset();
  impl_.reset();
}

reactor::Error Context::prepare_client(SSL* ssl, std::string_view host, std::uint16_t port) const {
  std::error_code code;
  std::string message;
  if (!prepare_client(ssl, host, port, code, message))
    return reactor::Error(code, {}, std::move(message));
  return {};
}

bool Context::prepare_client(SSL* ssl, std::string_view host, std::uint16_t port,
                             std::error_code& code, std::string& message) const {
  if (server_) return fail_plain(code, message, "prepare_client needs a client Context");
  std::string name(host);
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  if (name.empty() || name.find('\0') != std::string::npos) {
    return fail_plain(code, message, "server name \"" + std::string(host) + "\": not a host name");
  }
  ERR_clear_error();
  const OctetsPtr ip(a2i_IPADDRESS(name.c_str()));
  ERR_clear_error();  // not being an IP literal is no error

  // RFC 6066: SNI carries host names only, never IP literals.
  // SSL_set_tlsext_host_name's expansion, without its C-style cast.
  if (!ip &&
      SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, name.data()) != 1) {
    return fail(code, message, "server name " + name);
  }
  if (impl_->verify) {
    if (ip) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) != 1) {
        return fail(code, message, "verify IP address " + name);
      }
    } else {
      // "*.example.com" may cover "a.example.com", but "w*.example.com" covers nothing.
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set1_host(ssl, name.c_str()) != 1) {
        return fail(code, message, "verify host name " + name);
      }
    }
  }
  if (impl_->resumption) {
    // Host names are case-insensitive; an IPv6 literal keeps its brackets to stay unambiguous.
    std::string key = ascii_lower(name);
    if (ip && key.find(':') != std::string::npos) key = "[" + key + "]";
    key += ":" + std::to_string(port);
    if (!SessionCache::set_key(ssl, key)) return fail(code, message, "remember session key");
    if (const SessionPtr session = impl_->sessions.find(key)) {
      if (SSL_set_session(ssl, session.get()) != 1) {
        return fail(code, message, "offer cached session for " + key);
      }
    }
  }
  return true;
}

bool Context::refuses_server_name(std::string_view server_name) const noexcept {
  if (!server_ || !impl_->strict_sni || server_name.empty()) return false;
  try {
    return choose_certificate(impl_->names, std::string(server_name)) < 0;
  } catch (...) {
    return false;
  }
}

reactor::Error Context::rotate_ticket_keys(const std::vector<std::string>& files) const {
  if (!server_) return reactor::Error(Errc::config, {}, "ticket keys belong to server Contexts");
  return impl_->ticket_keys.rotate(files);
}

}  // namespace tls
