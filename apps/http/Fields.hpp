// Header-field text as RFC 9110 defines it: names compare without regard to case, and list
// values (Connection, Upgrade, Expect) are comma-separated tokens with optional whitespace.
// Shared by every app that reads HTTP heads.
#pragma once

#include <string_view>

namespace apps::http {

// ASCII case-insensitive equality (field names, tokens); bytes that are not letters must match
// exactly.
bool equals_nocase(std::string_view a, std::string_view b);

// Whether a comma-separated field value lists `token`, in any case.
bool lists_token(std::string_view list, std::string_view token);

// `value` without the spaces and tabs around it (RFC 9110 5.5's OWS).
std::string_view trim_ows(std::string_view value);

}  // namespace apps::http
