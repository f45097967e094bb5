// Header-field text as RFC 9110 defines it: names compare without regard to case, and list
// values (Connection, Upgrade, Expect) are comma-separated tokens with optional whitespace.
// Shared by every app that reads HTTP heads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace apps::http {

// ASCII case-insensitive equality (field names, tokens); bytes that are not letters must match
// exactly. Inline: every request's every field name goes through it, and a call to
// strncasecmp showed up in hello's keep-alive profile (bench/keepalive_ir.sh).
inline bool equals_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    const auto lower = static_cast<unsigned char>(x | 0x20);
    if (lower != (y | 0x20) || lower < 'a' || lower > 'z') return false;
  }
  return true;
}

// An ASCII character in lower case (host and field names; not locale-dependent std::tolower).
inline char lower_ascii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// `text` in ASCII lower case.
std::string lower_ascii(std::string_view text);

// Whether a comma-separated field value lists `token`, in any case.
bool lists_token(std::string_view list, std::string_view token);

// `value` without the spaces and tabs around it (RFC 9110 5.5's OWS).
std::string_view trim_ows(std::string_view value);

}  // namespace apps::http
