#include "tls/Hooks.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <array>
#include <exception>
#include <optional>
#include <utility>

#include "tls/Context.hpp"
#include "tls/Engine.hpp"
#include "tls/HookState.hpp"
#include "tls/Loader.hpp"
#include "tls/SniMatch.hpp"

namespace tls {

// ---- the handles ---------------------------------------------------------------------------

void HelloDecision::use(std::shared_ptr<const Context> context) const {
  answer({detail::HelloAnswer::Kind::use, std::move(context), 0});
}
void HelloDecision::proceed() const {
  answer({detail::HelloAnswer::Kind::proceed, nullptr, 0});
}
void HelloDecision::reject(int alert) const {
  answer({detail::HelloAnswer::Kind::reject, nullptr, alert});
}

void CertificateChoice::use(std::shared_ptr<const Certificate> certificate) const {
  answer({detail::CertificateAnswer::Kind::use, std::move(certificate)});
}
void CertificateChoice::decline() const {
  answer({detail::CertificateAnswer::Kind::decline, nullptr});
}

void VerifyDecision::accept() const {
  answer({detail::VerifyAnswer::Kind::accept, {}});
}
void VerifyDecision::reject(std::string reason) const {
  answer({detail::VerifyAnswer::Kind::reject, std::move(reason)});
}

// ---- Certificate ---------------------------------------------------------------------------

reactor::Result<std::shared_ptr<const Certificate>> Certificate::load(
    const CertificateFiles& files) {
  if (files.key_file.empty())
    return reactor::Error(Errc::config, {}, "certificate " + files.cert_file + " has no key file");
  LoadedCertificate loaded;
  if (std::string why; !load_certificate(files, loaded, why))
    return reactor::Error(Errc::config, {}, std::move(why));
  struct Shared : Certificate {};
  auto certificate = std::make_shared<Shared>();
  certificate->leaf_ = std::move(loaded.leaf);
  certificate->chain_ = std::move(loaded.chain);
  certificate->key_ = std::move(loaded.key);
  return std::shared_ptr<const Certificate>(std::move(certificate));
}

namespace {

// OPENSSL_free is a macro; owners need a function.
template <typename T>
void openssl_free(T* p) noexcept {
  OPENSSL_free(p);
}

std::string name_text(const X509_NAME* name) {
  std::array<char, 512> text{};
  X509_NAME_oneline(name, text.data(), static_cast<int>(text.size()));
  return text.data();
}

}  // namespace

std::string Certificate::subject() const {
  return name_text(X509_get_subject_name(leaf_.get()));
}

// ---- ClientHello extensions ----------------------------------------------------------------

namespace hello {
namespace {

// Reads big-endian length-prefixed fields; every read checks what is left.
class Reader {
 public:
  explicit Reader(std::span<const unsigned char> data) : rest_(data) {}
  bool empty() const noexcept { return rest_.empty(); }
  std::size_t left() const noexcept { return rest_.size(); }
  bool u8(std::size_t& v) {
    if (rest_.empty()) return false;
    v = rest_[0];
    rest_ = rest_.subspan(1);
    return true;
  }
  bool u16(std::size_t& v) {
    if (rest_.size() < 2) return false;
    v = (std::size_t{rest_[0]} << 8) | rest_[1];
    rest_ = rest_.subspan(2);
    return true;
  }
  bool take(std::size_t n, std::span<const unsigned char>& out) {
    if (rest_.size() < n) return false;
    out = rest_.first(n);
    rest_ = rest_.subspan(n);
    return true;
  }
  // Every extension here is one non-empty list whose length prefix (1 or 2 bytes) covers
  // exactly the rest.
  bool list(std::size_t prefix_bytes) {
    std::size_t length = 0;
    const bool read = prefix_bytes == 1 ? u8(length) : u16(length);
    return read && length != 0 && length == rest_.size();
  }

 private:
  std::span<const unsigned char> rest_;
};

// RFC 8701 reserves 0x0a0a, 0x1a1a, ... 0xfafa so that clients can check servers ignore them.
bool is_grease(std::size_t v) noexcept {
  return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

}  // namespace

bool server_name(std::span<const unsigned char> ext, std::string& out) {
  Reader r(ext);
  if (!r.list(2)) return false;
  std::optional<std::string> host;
  while (!r.empty()) {
    std::size_t type = 0;
    std::size_t length = 0;
    std::span<const unsigned char> name;
    if (!r.u8(type) || !r.u16(length) || !r.take(length, name)) return false;
    if (type != TLSEXT_NAMETYPE_host_name) continue;
    // One host name at most (RFC 6066), 1 to 255 bytes, no NUL that would cut it short later.
    if (host || name.empty() || name.size() > TLSEXT_MAXLEN_host_name) return false;
    for (unsigned char c : name)
      if (c == 0) return false;
    host = ascii_lower(std::string_view(reinterpret_cast<const char*>(name.data()), name.size()));
  }
  if (!host) return false;
  out = std::move(*host);
  return true;
}

bool alpn(std::span<const unsigned char> ext, std::vector<std::string>& out) {
  Reader r(ext);
  if (!r.list(2)) return false;
  std::vector<std::string> protocols;
  while (!r.empty()) {
    std::size_t length = 0;
    std::span<const unsigned char> name;
    if (!r.u8(length) || length == 0 || !r.take(length, name)) return false;
    protocols.emplace_back(reinterpret_cast<const char*>(name.data()), name.size());
  }
  out = std::move(protocols);
  return true;
}

bool versions(std::span<const unsigned char> ext, std::vector<int>& out) {
  Reader r(ext);
  if (!r.list(1) || r.left() % 2 != 0) return false;
  std::vector<int> found;
  while (!r.empty()) {
    std::size_t version = 0;
    if (!r.u16(version)) return false;
    if (!is_grease(version)) found.push_back(static_cast<int>(version));
  }
  out = std::move(found);
  return true;
}

}  // namespace hello

// ---- per-SSL state -------------------------------------------------------------------------

namespace {

struct HookState {
  std::shared_ptr<detail::Slot<detail::HelloAnswer>> hello;
  std::shared_ptr<detail::Slot<detail::CertificateAnswer>> certificate;
  std::shared_ptr<detail::Slot<detail::VerifyAnswer>> verify;
  // The Context a hello decision switched to: the SSL now runs on its SSL_CTX, whose callbacks
  // use it, so it lives as long as the SSL (ex_data is freed first thing in SSL_free, after
  // which no callback runs).
  std::shared_ptr<const Context> switched;
  std::string server_name;           // from the ClientHello, to name an unrecognized_name failure
  bool hello_decided = false;        // one hello decision per connection
  bool certificate_decided = false;  // one server certificate choice per connection
  std::optional<HookFailure> failure;

  void fail(Errc code, std::string detail) {
    if (!failure) failure = HookFailure{code, std::move(detail)};
  }

  // Freed with the SSL: answers still to come must not wake a connection (or a loop) that is
  // gone.
  ~HookState() {
    if (hello) hello->disarm();
    if (certificate) certificate->disarm();
    if (verify) verify->disarm();
  }
  HookState() = default;
  HookState(const HookState&) = delete;
  HookState& operator=(const HookState&) = delete;
};

void free_state(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  std::unique_ptr<HookState> reclaim(static_cast<HookState*>(ptr));
}

int state_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_state);
  return index;
}

int hooks_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

const HookSet* hooks_of(const SSL* ssl) noexcept {
  return static_cast<const HookSet*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), hooks_index()));
}

// The SSL's state, made on first use; nullptr when out of memory.
HookState* state_of(SSL* ssl) noexcept {
  if (state_index() < 0) return nullptr;
  if (auto* state = static_cast<HookState*>(SSL_get_ex_data(ssl, state_index()))) return state;
  try {
    auto state = std::make_unique<HookState>();
    if (SSL_set_ex_data(ssl, state_index(), state.get()) != 1) return nullptr;
    return state.release();  // SSL_free's ex_data cleanup (free_state) deletes it
  } catch (...) {
    return nullptr;
  }
}

// Asks the application once per question: the first call for a question makes its slot and calls
// the hook (`call` builds the request and calls it with a fresh handle); each call returns the
// answer once there is one, or nullopt (park: the caller tells OpenSSL to retry) with the
// Engine's waker left in the slot. A hook that throws answers Answer::dropped(), with the reason
// recorded first so that it names the failure.
template <typename Handle, typename Answer, typename Call>
std::optional<Answer> ask(SSL* ssl, HookState& state,
                          std::shared_ptr<detail::Slot<Answer>>& pending, const char* hook,
                          Call&& call) {
  if (!pending) {
    pending = std::make_shared<detail::Slot<Answer>>();
    try {
      call(Handle(pending));  // a handle the hook did not keep answers dropped() right here
    } catch (const std::exception& e) {
      state.fail(Errc::handshake_failed, std::string(hook) + " threw: " + e.what());
      pending.reset();
      return Answer::dropped();
    } catch (...) {
      state.fail(Errc::handshake_failed, std::string(hook) + " threw");
      pending.reset();
      return Answer::dropped();
    }
  }
  const Engine* engine = Engine::of(ssl);
  std::optional<Answer> answer =
      pending->take_or_park(engine != nullptr ? engine->waker() : std::function<void()>());
  if (answer) pending.reset();  // spent: a renegotiation asks again
  return answer;
}

std::string alert_text(int alert) {
  return SSL_alert_desc_string_long(alert);
}

// ---- ClientHello: SSL_CTX_set_client_hello_cb ----------------------------------------------

ClientHello read_hello(SSL* ssl, const HookSet& hooks) {
  ClientHello h;
  int* types = nullptr;
  std::size_t count = 0;
  if (SSL_client_hello_get1_extensions_present(ssl, &types, &count) == 1) {
    const std::unique_ptr<int, Free<openssl_free<int>>> owned(types);
    h.extensions.assign(types, types + count);
  }
  const auto ext = [&](unsigned type) -> std::optional<std::span<const unsigned char>> {
    const unsigned char* data = nullptr;
    std::size_t length = 0;
    if (SSL_client_hello_get0_ext(ssl, type, &data, &length) != 1) return std::nullopt;
    return std::span<const unsigned char>(data, length);
  };
  if (const auto sni = ext(TLSEXT_TYPE_server_name)) hello::server_name(*sni, h.server_name);
  if (const auto offers = ext(TLSEXT_TYPE_application_layer_protocol_negotiation))
    hello::alpn(*offers, h.alpn);
  const auto versions = ext(TLSEXT_TYPE_supported_versions);
  if (!versions || !hello::versions(*versions, h.versions))
    h.versions = {static_cast<int>(SSL_client_hello_get0_legacy_version(ssl))};
  h.has_certificate = !h.server_name.empty() && hooks.names != nullptr &&
                      choose_certificate(*hooks.names, h.server_name) >= 0;
  return h;
}

int client_hello(SSL* ssl, int* alert) {
  const HookSet* hooks = hooks_of(ssl);
  HookState* state = state_of(ssl);
  if (hooks == nullptr || state == nullptr) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  // OpenSSL calls this for every ClientHello: also for the second one after a HelloRetryRequest
  // (and a TLS 1.2 renegotiation's). The first decision holds for the connection, as a use()
  // does anyway (the SSL already runs on the chosen SSL_CTX).
  if (state->hello_decided) return SSL_CLIENT_HELLO_SUCCESS;
  const auto answer =
      ask<HelloDecision>(ssl, *state, state->hello, "on_client_hello", [&](HelloDecision d) {
        ClientHello h = read_hello(ssl, *hooks);
        state->server_name = h.server_name;
        hooks->on_client_hello(h, std::move(d));
      });
  if (!answer) return SSL_CLIENT_HELLO_RETRY;
  state->hello_decided = true;
  using Kind = detail::HelloAnswer::Kind;
  switch (answer->kind) {
    case Kind::proceed:
      return SSL_CLIENT_HELLO_SUCCESS;
    case Kind::use: {
      const std::shared_ptr<const Context>& context = answer->context;
      if (!context || !context->is_server()) {
        state->fail(Errc::handshake_failed, "the hello decision used a client Context, or none");
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
      }
      // The whole SSL_CTX, as SNI does (Context.cpp explains why); it also brings that
      // Context's session ID context, so its sessions resume only under it.
      SSL_CTX* ctx = context->native();
      if (SSL_get_SSL_CTX(ssl) != ctx && SSL_set_SSL_CTX(ssl, ctx) != ctx) {
        state->fail(Errc::handshake_failed,
                    "switch to the chosen Context: " + last_reason(drain_error_queue(), "failed"));
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
      }
      state->switched = context;
      return SSL_CLIENT_HELLO_SUCCESS;
    }
    case Kind::reject: {
      // A zero or out-of-range alert would read as close_notify or garbage to the client.
      const int sent =
          answer->alert > 0 && answer->alert < 256 ? answer->alert : SSL_AD_HANDSHAKE_FAILURE;
      if (sent == SSL_AD_UNRECOGNIZED_NAME)
        state->fail(Errc::unrecognized_name, state->server_name);
      else
        state->fail(Errc::handshake_failed,
                    "the application refused the ClientHello (" + alert_text(sent) + ")");
      *alert = sent;
      return SSL_CLIENT_HELLO_ERROR;
    }
    case Kind::dropped:
      break;
  }
  state->fail(Errc::handshake_failed,
              "the application dropped its hello decision without answering");
  *alert = SSL_AD_INTERNAL_ERROR;
  return SSL_CLIENT_HELLO_ERROR;
}

// ---- certificates: SSL_CTX_set_cert_cb (server), SSL_CTX_set_client_cert_cb (client) -------

std::vector<std::string> peer_ca_names(const SSL* ssl) {
  std::vector<std::string> names;
  // On a client this is the list the server sent in its CertificateRequest.
  if (const STACK_OF(X509_NAME)* list = SSL_get_client_CA_list(ssl)) {
    for (int i = 0; i < sk_X509_NAME_num(list); ++i)
      names.push_back(name_text(sk_X509_NAME_value(list, i)));
  }
  return names;
}

// The name a client connected to: its SNI, else the host or IP it verifies.
std::string connected_name(SSL* ssl) {
  if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) return sni;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (const char* host = X509_VERIFY_PARAM_get0_host(param, 0)) return host;
  const std::unique_ptr<char, Free<openssl_free<char>>> ip(X509_VERIFY_PARAM_get1_ip_asc(param));
  return ip ? std::string(ip.get()) : std::string();
}

// Makes `certificate` the only one this SSL presents.
bool present(SSL* ssl, const Certificate& certificate) {
  SSL_certs_clear(ssl);
  return SSL_use_cert_and_key(ssl, certificate.leaf(), certificate.key(), certificate.chain(), 1) ==
         1;
}

int server_certificate(SSL* ssl) {
  const HookSet* hooks = hooks_of(ssl);
  HookState* state = state_of(ssl);
  if (hooks == nullptr || state == nullptr) return 0;
  // Called again for the second ClientHello after a HelloRetryRequest: the certificate chosen
  // for the first is still the SSL's.
  if (state->certificate_decided) return 1;
  const auto answer = ask<CertificateChoice>(
      ssl, *state, state->certificate, "on_certificate", [&](CertificateChoice c) {
        CertificateRequest request;
        if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name))
          request.server_name = name;
        hooks->on_certificate(request, std::move(c));
      });
  if (!answer) return -1;  // SSL_ERROR_WANT_X509_LOOKUP
  state->certificate_decided = true;
  using Kind = detail::CertificateAnswer::Kind;
  switch (answer->kind) {
    case Kind::decline:
      return 1;
    case Kind::use:
      if (answer->certificate && present(ssl, *answer->certificate)) return 1;
      state->fail(Errc::handshake_failed,
                  "use the chosen certificate: " + last_reason(drain_error_queue(), "none given"));
      return 0;  // OpenSSL sends internal_error
    case Kind::dropped:
      break;
  }
  state->fail(Errc::handshake_failed,
              "the application dropped its certificate choice without answering");
  return 0;
}

int client_certificate(SSL* ssl, X509** x509, EVP_PKEY** pkey) {
  const HookSet* hooks = hooks_of(ssl);
  HookState* state = state_of(ssl);
  if (hooks == nullptr || state == nullptr) return 0;
  const auto answer = ask<CertificateChoice>(ssl, *state, state->certificate,
                                             "on_client_certificate", [&](CertificateChoice c) {
                                               CertificateRequest request;
                                               request.server_name = connected_name(ssl);
                                               request.ca_names = peer_ca_names(ssl);
                                               hooks->on_client_certificate(request, std::move(c));
                                             });
  if (!answer) return -1;  // SSL_ERROR_WANT_X509_LOOKUP
  if (answer->kind != detail::CertificateAnswer::Kind::use || !answer->certificate)
    return 0;  // no certificate
  const Certificate& chosen = *answer->certificate;
  // The callback can hand back only a leaf and a key; the chain goes in first, into the slot
  // OpenSSL's SSL_use_certificate then fills with the same leaf.
  if (!present(ssl, chosen) || X509_up_ref(chosen.leaf()) != 1) {
    ERR_clear_error();
    return 0;
  }
  if (EVP_PKEY_up_ref(chosen.key()) != 1) {
    X509_free(chosen.leaf());
    ERR_clear_error();
    return 0;
  }
  *x509 = chosen.leaf();  // OpenSSL takes these references
  *pkey = chosen.key();
  return 1;
}

// ---- verification: SSL_CTX_set_cert_verify_callback ----------------------------------------

VerifyRequest read_verify(SSL* ssl, X509_STORE_CTX* store, long openssl_result) {
  VerifyRequest request;
  request.host = connected_name(ssl);
  request.openssl_result = openssl_result;
  // The chain OpenSSL built; after a failure (verify off) it may be partial, then the peer's own.
  std::vector<X509*> chain;
  if (STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(store);
      built != nullptr && sk_X509_num(built) > 0) {
    for (int i = 0; i < sk_X509_num(built); ++i) chain.push_back(sk_X509_value(built, i));
  } else if (X509* leaf = X509_STORE_CTX_get0_cert(store)) {
    chain.push_back(leaf);
    if (STACK_OF(X509)* sent = X509_STORE_CTX_get0_untrusted(store))
      for (int i = 0; i < sk_X509_num(sent); ++i)
        if (sk_X509_value(sent, i) != leaf) chain.push_back(sk_X509_value(sent, i));
  }
  for (X509* cert : chain) {
    unsigned char* der = nullptr;
    const int length = i2d_X509(cert, &der);
    if (length <= 0) continue;
    const std::unique_ptr<unsigned char, Free<openssl_free<unsigned char>>> owned(der);
    request.chain.emplace_back(der, der + length);
  }
  if (!chain.empty()) {
    request.subject = name_text(X509_get_subject_name(chain.front()));
    // A pin is the SHA-256 of the whole DER SubjectPublicKeyInfo (RFC 7469), not of the key bits.
    unsigned char* spki = nullptr;
    const int length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(chain.front()), &spki);
    if (length > 0) {
      const std::unique_ptr<unsigned char, Free<openssl_free<unsigned char>>> owned(spki);
      std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
      unsigned int size = 0;
      if (EVP_Digest(spki, static_cast<std::size_t>(length), md.data(), &size, EVP_sha256(),
                     nullptr) == 1)
        request.spki_sha256.assign(md.begin(), md.begin() + size);
    }
  }
  ERR_clear_error();
  return request;
}

int verify(X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const HookSet* hooks = ssl != nullptr ? hooks_of(ssl) : nullptr;
  HookState* state = ssl != nullptr ? state_of(ssl) : nullptr;
  if (hooks == nullptr || state == nullptr) return 0;
  // OpenSSL's own checks first (chain, validity, host name, purpose); this runs again, whole,
  // on every retry, so the answer applies to exactly the chain the application saw.
  const int verified = X509_verify_cert(store);
  if (hooks->verify && verified <= 0) return 0;
  const long result = X509_STORE_CTX_get_error(store);
  const auto answer = ask<VerifyDecision>(
      ssl, *state, state->verify, "on_verify",
      [&](VerifyDecision d) { hooks->on_verify(read_verify(ssl, store, result), std::move(d)); });
  // 1 with the retry flag set: OpenSSL suspends the handshake (SSL_ERROR_WANT_RETRY_VERIFY).
  if (!answer) return SSL_set_retry_verify(ssl);
  using Kind = detail::VerifyAnswer::Kind;
  if (answer->kind == Kind::accept) {
    // With verify off the application is the whole policy: what it accepts is verified.
    if (!hooks->verify) X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  std::string why = "certificate rejected by the application";
  if (answer->kind == Kind::dropped)
    why = "the application dropped its verify decision without answering";
  else if (!answer->reason.empty())
    why += ": " + answer->reason;
  state->fail(Errc::verify_failed, std::move(why));
  // OpenSSL turns this result into a bad_certificate alert.
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
  return 0;
}

// The callbacks OpenSSL calls. Nothing may escape them: an allocation that fails while a
// request or a reason is built ends the handshake instead.
int on_client_hello(SSL* ssl, int* alert, void*) noexcept {
  try {
    return client_hello(ssl, alert);
  } catch (...) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
}

int on_server_certificate(SSL* ssl, void*) noexcept {
  try {
    return server_certificate(ssl);
  } catch (...) {
    return 0;
  }
}

int on_client_certificate(SSL* ssl, X509** x509, EVP_PKEY** pkey) noexcept {
  try {
    return client_certificate(ssl, x509, pkey);
  } catch (...) {
    return 0;  // no certificate
  }
}

int on_verify(X509_STORE_CTX* store, void*) noexcept {
  try {
    return verify(store);
  } catch (...) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_OUT_OF_MEM);
    return 0;
  }
}

}  // namespace

// ---- installing ----------------------------------------------------------------------------

bool install_hooks(SSL_CTX* ctx, const HookSet* hooks, std::error_code& code,
                   std::string& message) {
  if (!hooks->on_client_hello && !hooks->on_certificate && !hooks->on_client_certificate &&
      !hooks->on_verify)
    return true;
  if (hooks_index() < 0 || state_index() < 0 ||
      SSL_CTX_set_ex_data(ctx, hooks_index(), const_cast<HookSet*>(hooks)) != 1) {
    code = Errc::config;
    message = "attach hooks: " + last_reason(drain_error_queue(), "out of memory");
    return false;
  }
  if (hooks->on_client_hello) SSL_CTX_set_client_hello_cb(ctx, &on_client_hello, nullptr);
  if (hooks->on_certificate) SSL_CTX_set_cert_cb(ctx, &on_server_certificate, nullptr);
  if (hooks->on_client_certificate) SSL_CTX_set_client_cert_cb(ctx, &on_client_certificate);
  if (hooks->on_verify) {
    SSL_CTX_set_cert_verify_callback(ctx, &on_verify, nullptr);
    // With SSL_VERIFY_NONE OpenSSL ignores what verification returns: a rejection must count.
    if (SSL_CTX_get_verify_mode(ctx) == SSL_VERIFY_NONE)
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  return true;
}

const HookFailure* hook_failure(const SSL* ssl) noexcept {
  if (ssl == nullptr || state_index() < 0) return nullptr;
  const auto* state = static_cast<const HookState*>(SSL_get_ex_data(ssl, state_index()));
  return state != nullptr && state->failure ? &*state->failure : nullptr;
}

}  // namespace tls
