// Message digests for code outside tls/, which may not include OpenSSL headers itself.
#pragma once

#include <array>
#include <cstddef>
#include <span>

namespace tls {

/// SHA-1 of `data` (FIPS 180-4), from OpenSSL's EVP interface. Not for security: WebSocket's
/// opening handshake (RFC 6455 4.2.2) names it to prove the server read the key. Thread-safe.
/// Throws std::runtime_error only when OpenSSL offers no SHA-1 at all (a FIPS-only provider): a
/// broken installation, which docs/errors.md treats like running out of memory.
std::array<std::byte, 20> sha1(std::span<const std::byte> data);

}  // namespace tls
