#include "apps/http/Status.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace apps::http {
namespace {

// Sorted by code, for the binary search.
constexpr std::array<std::pair<int, std::string_view>, 26> kPhrases{{
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {426, "Upgrade Required"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
}};
static_assert(std::is_sorted(kPhrases.begin(), kPhrases.end()));

}  // namespace

std::string_view reason_phrase(int status) {
  const auto it = std::lower_bound(kPhrases.begin(), kPhrases.end(), status,
                                   [](const auto& entry, int code) { return entry.first < code; });
  return it != kPhrases.end() && it->first == status ? it->second : "Unknown";
}

}  // namespace apps::http
