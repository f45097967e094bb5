// Private to tls/: the OpenSSL side of the asynchronous hooks (tls/Hooks.hpp). A Context installs
// the callbacks for the hooks its config sets; each SSL keeps its pending questions and the
// Context it was switched to in per-SSL state freed with the SSL; the Engine asks why a hook
// failed a handshake, to name the failure.
#pragma once

#include <openssl/ssl.h>

#include <functional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "tls/Errors.hpp"
#include "tls/Hooks.hpp"

namespace tls {

// The hooks of one Context (owned by it, so they live as long as its SSL_CTXs are used).
struct HookSet {
  std::function<void(const ClientHello&, HelloDecision)> on_client_hello;
  std::function<void(const CertificateRequest&, CertificateChoice)> on_certificate;
  std::function<void(const CertificateRequest&, CertificateChoice)> on_client_certificate;
  std::function<void(const VerifyRequest&, VerifyDecision)> on_verify;
  bool verify = true;  // client: OpenSSL's verification is enforced before on_verify is asked
  const std::vector<std::vector<std::string>>* names = nullptr;  // server: the certificates' names
};

// Installs on `ctx` the callbacks for the hooks `hooks` sets (none: nothing changes). A client
// with on_verify and verify off gets SSL_VERIFY_PEER, so that a rejection is enforced.
bool install_hooks(SSL_CTX* ctx, const HookSet* hooks, std::error_code& code, std::string& message);

// Why a hook failed this SSL's handshake, or nullptr when none did.
struct HookFailure {
  Errc code;
  std::string detail;
};
const HookFailure* hook_failure(const SSL* ssl) noexcept;

// The ClientHello extensions a hook sees, parsed from their wire form (RFC 6066 server_name,
// RFC 7301 ALPN, RFC 8446 supported_versions). False, with `out` unchanged, when malformed.
namespace hello {
bool server_name(std::span<const unsigned char> ext, std::string& out);
bool alpn(std::span<const unsigned char> ext, std::vector<std::string>& out);
bool versions(std::span<const unsigned char> ext, std::vector<int>& out);
}  // namespace hello

}  // namespace tls
