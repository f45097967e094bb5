// What an operator wants to know about a certificate file without a TLS connection: whose it
// is and when it expires (for the expiry gauge of a metrics endpoint, or a start-up warning).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "reactor/Error.hpp"

namespace tls {

/// What an operator wants to see of a served certificate (start-up log, metrics of its expiry); a
/// plain value.
struct CertificateInfo {
  std::string subject;              ///< the leaf's subject, RFC 2253: "CN=localhost,O=Example"
  std::int64_t not_after_unix = 0;  ///< the leaf's notAfter, seconds since 1970-01-01 UTC
};

/// Reads the first certificate (the leaf) of a PEM file such as a served chain. An Error
/// (Errc::config) when the file cannot be read or holds no valid certificate; its detail() says
/// why, e.g. "load certificate /c.pem: No such file or directory". Thread-safe.
reactor::Result<CertificateInfo> read_certificate_info(const std::string& path);

}  // namespace tls
