#include "apps/proxy/HeaderRewrite.hpp"

#include <strings.h>

#include <array>
#include <charconv>
#include <utility>

namespace apps::proxy {
namespace {

// RFC 9110 7.6.1 and 9112: fields that describe one connection, never forwarded. Content-Length
// and Transfer-Encoding are re-derived from how the proxy sends the body; Expect is answered
// here; Proxy-Authorization is this hop's credentials.
constexpr std::array<std::string_view, 9> kRequestDropped = {
    "connection",        "keep-alive", "proxy-connection", "te",     "trailer",
    "transfer-encoding", "upgrade",    "content-length",   "expect",
};
constexpr std::array<std::string_view, 9> kResponseDropped = {
    "connection",        "keep-alive", "proxy-connection", "te",  "trailer",
    "transfer-encoding", "upgrade",    "content-length",   "via",
};

template <std::size_t N>
bool in(const std::array<std::string_view, N>& names, std::string_view name) {
  for (const auto candidate : names)
    if (equals_nocase(candidate, name)) return true;
  return false;
}

// Whether a Connection field of `headers` names `name` (those become hop-by-hop too).
bool named_by_connection(const HeaderList& headers, std::string_view name) {
  for (std::size_t i = 0; i < headers.size(); ++i)
    if (equals_nocase(headers.name(i), "connection") && lists_token(headers.value(i), name))
      return true;
  return false;
}

void field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

void number_field(std::string& out, std::string_view name, std::uint64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  field(out, name, std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

void framing_fields(std::string& out, BodyFraming body, std::uint64_t length) {
  if (body == BodyFraming::length) number_field(out, "Content-Length", length);
  if (body == BodyFraming::chunked) field(out, "Transfer-Encoding", "chunked");
}

// Every value of the fields called `name`, joined as one list ("a, b"), then `extra`.
void joined_field(std::string& out, const HeaderList& headers, std::string_view name,
                  std::string_view out_name, std::string_view extra) {
  out.append(out_name).append(": ");
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (!equals_nocase(headers.name(i), name) || headers.value(i).empty()) continue;
    out.append(headers.value(i)).append(", ");
  }
  out.append(extra).append("\r\n");
}

}  // namespace

void HeaderList::add(std::string_view name, std::string_view value) {
  fields_.push_back({static_cast<std::uint32_t>(text_.size()),
                     static_cast<std::uint32_t>(name.size()),
                     static_cast<std::uint32_t>(value.size())});
  text_.append(name).append(value);
}

std::string_view HeaderList::name(std::size_t i) const {
  return std::string_view(text_).substr(fields_[i].begin, fields_[i].name_size);
}

std::string_view HeaderList::value(std::size_t i) const {
  return std::string_view(text_).substr(fields_[i].begin + fields_[i].name_size,
                                        fields_[i].value_size);
}

bool HeaderList::find(std::string_view wanted, std::string_view& value) const {
  for (std::size_t i = 0; i < size(); ++i) {
    if (equals_nocase(name(i), wanted)) {
      value = this->value(i);
      return true;
    }
  }
  return false;
}

bool equals_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool lists_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (equals_nocase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

void write_request_head(std::string& out, const RequestFacts& facts, const HeaderList& headers) {
  out.append(facts.method).append(" ").append(facts.target).append(" HTTP/1.1\r\n");
  bool has_host = false;
  std::string_view ignored;
  const bool has_connection = headers.find("connection", ignored);
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const auto name = headers.name(i);
    if (in(kRequestDropped, name) || equals_nocase(name, "proxy-authorization") ||
        equals_nocase(name, "x-forwarded-for") || equals_nocase(name, "x-forwarded-proto") ||
        equals_nocase(name, "via") || (has_connection && named_by_connection(headers, name)))
      continue;
    has_host = has_host || equals_nocase(name, "host");
    field(out, name, headers.value(i));
  }
  if (!has_host) field(out, "Host", facts.upstream_host);
  joined_field(out, headers, "x-forwarded-for", "X-Forwarded-For", facts.client_ip);
  field(out, "X-Forwarded-Proto", facts.client_tls ? "https" : "http");
  joined_field(out, headers, "via", "Via", "1.1 tlsreactor");
  framing_fields(out, facts.body, facts.content_length);
  out.append("\r\n");
}

void write_response_head(std::string& out, const ResponseFacts& facts, const HeaderList& headers) {
  char digits[8];
  const auto end = std::to_chars(digits, digits + sizeof digits, facts.status).ptr;
  out.append("HTTP/1.1 ").append(digits, end).append(" ").append(facts.reason).append("\r\n");
  const bool bodiless = facts.body == BodyFraming::none;
  std::string_view ignored;
  const bool has_connection = headers.find("connection", ignored);
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const auto name = headers.name(i);
    // A HEAD or 304 response keeps the Content-Length the full response would have had.
    const bool kept_length = bodiless && equals_nocase(name, "content-length");
    if (!kept_length &&
        (in(kResponseDropped, name) || (has_connection && named_by_connection(headers, name))))
      continue;
    field(out, name, headers.value(i));
  }
  joined_field(out, headers, "via", "Via", "1.1 tlsreactor");
  framing_fields(out, facts.body, facts.content_length);
  if (!facts.keep_alive)
    field(out, "Connection", "close");
  else if (facts.client_http10)
    field(out, "Connection", "keep-alive");
  out.append("\r\n");
}

std::string_view reason_phrase(int status) {
  static constexpr std::pair<int, std::string_view> kPhrases[] = {
      {200, "OK"},
      {400, "Bad Request"},
      {403, "Forbidden"},
      {408, "Request Timeout"},
      {431, "Request Header Fields Too Large"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
  };
  for (const auto& [code, phrase] : kPhrases)
    if (code == status) return phrase;
  return "Error";
}

std::string error_response(int status, std::string_view why) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out.append(reason_phrase(status)).append("\r\n");
  field(out, "Content-Type", "text/plain");
  number_field(out, "Content-Length", why.size() + 1);
  field(out, "Connection", "close");
  out.append("\r\n").append(why).append("\n");
  return out;
}

}  // namespace apps::proxy
