// Private to tls::Context: which certificate answers a ClientHello's server name. Kept apart so
// the matching rules are unit-testable without a handshake.
#pragma once

#include <openssl/x509.h>

#include <string>
#include <string_view>
#include <vector>

namespace tls {

// True when `host` (an SNI name) is covered by `pattern` (a certificate name), ignoring ASCII
// case: either equal, or `pattern` is "*.rest" and `host` is exactly one non-empty label
// followed by ".rest" (RFC 6125 6.4.3, without partial-label wildcards such as "w*.x.com").
bool sni_matches(std::string_view pattern, std::string_view host) noexcept;

// `s` with ASCII letters lower-cased: DNS names compare without regard to case.
std::string ascii_lower(std::string_view s);

// Which certificate answers `host`: the first whose names hold `host` exactly, else the first
// with a wildcard covering it (so "api.example.com" beats "*.example.com" wherever it is listed,
// as nginx's server_name does). -1 when none does.
int choose_certificate(const std::vector<std::vector<std::string>>& names,
                       std::string_view host) noexcept;

// The names a certificate answers to, lower-cased: its subjectAltName DNS entries or, only when
// it has none, its subject commonName (the pre-RFC 6125 fallback browsers still honour).
std::vector<std::string> certificate_names(X509* cert);

}  // namespace tls
