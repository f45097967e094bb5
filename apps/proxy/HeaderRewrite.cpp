#include "apps/proxy/HeaderRewrite.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "apps/http/Fields.hpp"
#include "apps/http/Status.hpp"

namespace apps::proxy {
namespace {

constexpr std::uint32_t bit(FieldName name) {
  return std::uint32_t{1} << static_cast<unsigned>(name);
}

// RFC 9110 7.6.1 and 9112: fields that describe one connection, never forwarded. Content-Length
// and Transfer-Encoding are re-derived from how the proxy sends the body; Expect is answered
// here; Proxy-Authorization is this hop's credentials; the forwarding fields are rewritten.
constexpr std::uint32_t kHopByHop = bit(FieldName::connection) | bit(FieldName::keep_alive) |
                                    bit(FieldName::proxy_connection) | bit(FieldName::te) |
                                    bit(FieldName::trailer) | bit(FieldName::transfer_encoding) |
                                    bit(FieldName::upgrade) | bit(FieldName::content_length);
constexpr std::uint32_t kRequestDropped =
    kHopByHop | bit(FieldName::expect) | bit(FieldName::proxy_authorization) |
    bit(FieldName::x_forwarded_for) | bit(FieldName::x_forwarded_proto) | bit(FieldName::via) |
    bit(FieldName::client_cert) | bit(FieldName::client_cert_chain) | bit(FieldName::x_request_id);
constexpr std::uint32_t kResponseDropped = kHopByHop | bit(FieldName::via);

constexpr std::pair<std::string_view, FieldName> kNames[] = {
    {"host", FieldName::host},
    {"connection", FieldName::connection},
    {"keep-alive", FieldName::keep_alive},
    {"proxy-connection", FieldName::proxy_connection},
    {"te", FieldName::te},
    {"trailer", FieldName::trailer},
    {"transfer-encoding", FieldName::transfer_encoding},
    {"upgrade", FieldName::upgrade},
    {"content-length", FieldName::content_length},
    {"expect", FieldName::expect},
    {"via", FieldName::via},
    {"x-forwarded-for", FieldName::x_forwarded_for},
    {"x-forwarded-proto", FieldName::x_forwarded_proto},
    {"proxy-authorization", FieldName::proxy_authorization},
    {"client-cert", FieldName::client_cert},
    {"client-cert-chain", FieldName::client_cert_chain},
    {"x-request-id", FieldName::x_request_id},
    {"traceparent", FieldName::traceparent},
    {"tracestate", FieldName::tracestate},
};

bool dropped(std::uint32_t set, FieldName name) {
  return (set & bit(name)) != 0;
}

// Whether a Connection field of `headers` names `name` (those become hop-by-hop too).
bool named_by_connection(const HeaderList& headers, std::string_view name) {
  for (std::size_t i = 0; i < headers.size(); ++i)
    if (headers.kind(i) == FieldName::connection && http::lists_token(headers.value(i), name))
      return true;
  return false;
}

// One resize and four copies (four appends each checked the capacity and the length).
void field(std::string& out, std::string_view name, std::string_view value) {
  const std::size_t at = out.size();
  out.resize(at + name.size() + value.size() + 4);
  char* p = out.data() + at;
  p = std::copy(name.begin(), name.end(), p);
  *p++ = ':';
  *p++ = ' ';
  p = std::copy(value.begin(), value.end(), p);
  *p++ = '\r';
  *p = '\n';
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
void joined_field(std::string& out, const HeaderList& headers, FieldName name,
                  std::string_view out_name, std::string_view extra) {
  out.append(out_name).append(": ");
  for (std::size_t i = 0; headers.has(name) && i < headers.size(); ++i) {
    if (headers.kind(i) != name || headers.value(i).empty()) continue;
    out.append(headers.value(i)).append(", ");
  }
  out.append(extra).append("\r\n");
}

}  // namespace

FieldName field_name(std::string_view name) {
  for (const auto& [text, kind] : kNames)
    if (http::equals_nocase(text, name)) return kind;
  return FieldName::other;
}

void HeaderList::add(std::string_view name, std::string_view value) {
  const FieldName kind = field_name(name);
  fields_.push_back({static_cast<std::uint32_t>(text_.size()),
                     static_cast<std::uint32_t>(name.size()),
                     static_cast<std::uint32_t>(value.size()), kind});
  present_ |= bit(kind);
  text_.append(name).append(value);
}

void HeaderList::remove(std::string_view name) {
  std::size_t kept = 0;
  present_ = 0;
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    if (http::equals_nocase(this->name(i), name)) continue;
    present_ |= bit(fields_[i].kind);
    fields_[kept++] = fields_[i];
  }
  fields_.resize(kept);
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
    if (http::equals_nocase(name(i), wanted)) {
      value = this->value(i);
      return true;
    }
  }
  return false;
}

bool is_websocket_upgrade(std::string_view method, bool http10, const HeaderList& headers,
                          bool has_body) {
  if (method != "GET" || http10 || has_body || !headers.has(FieldName::upgrade)) return false;
  bool upgrade_token = false, websocket = false;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (headers.kind(i) == FieldName::connection)
      upgrade_token = upgrade_token || http::lists_token(headers.value(i), "upgrade");
    if (headers.kind(i) == FieldName::upgrade)
      websocket = websocket || http::lists_token(headers.value(i), "websocket");
  }
  return upgrade_token && websocket;
}

void write_request_head(std::string& out, const RequestFacts& facts, const HeaderList& headers) {
  out.append(facts.method).append(" ").append(facts.target).append(" HTTP/1.1\r\n");
  bool has_host = false;
  const bool has_connection = headers.has(FieldName::connection);
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const auto name = headers.name(i);
    if (dropped(kRequestDropped, headers.kind(i)) ||
        (has_connection && named_by_connection(headers, name)))
      continue;
    has_host = has_host || headers.kind(i) == FieldName::host;
    field(out, name, headers.value(i));
  }
  if (!has_host) field(out, "Host", facts.upstream_host);
  joined_field(out, headers, FieldName::x_forwarded_for, "X-Forwarded-For", facts.client_ip);
  field(out, "X-Forwarded-Proto", facts.client_tls ? "https" : "http");
  joined_field(out, headers, FieldName::via, "Via", "1.1 tlsreactor");
  if (!facts.request_id.empty()) field(out, "X-Request-Id", facts.request_id);
  if (!facts.client_cert.empty()) field(out, "Client-Cert", facts.client_cert);
  if (!facts.client_cert_chain.empty()) field(out, "Client-Cert-Chain", facts.client_cert_chain);
  framing_fields(out, facts.body, facts.content_length);
  if (facts.websocket) {
    field(out, "Connection", "upgrade");
    field(out, "Upgrade", "websocket");
  }
  out.append("\r\n");
}

namespace {

// Whether the upstream's response field `i` goes on to the client.
bool forwarded_response_field(const HeaderList& headers, std::size_t i, bool bodiless,
                              bool switching) {
  // A HEAD or 304 response keeps the Content-Length the full response would have had.
  if (bodiless && headers.kind(i) == FieldName::content_length) return true;
  if (switching && headers.kind(i) == FieldName::upgrade) return true;
  if (dropped(kResponseDropped, headers.kind(i))) return false;
  return !headers.has(FieldName::connection) || !named_by_connection(headers, headers.name(i));
}

}  // namespace

void write_response_head(std::string& out, const ResponseFacts& facts, const HeaderList& headers) {
  char digits[8];
  const auto end = std::to_chars(digits, digits + sizeof digits, facts.status).ptr;
  out.append("HTTP/1.1 ").append(digits, end).append(" ").append(facts.reason).append("\r\n");
  const bool bodiless = facts.body == BodyFraming::none;
  for (std::size_t i = 0; i < headers.size(); ++i)
    if (forwarded_response_field(headers, i, bodiless, facts.switching))
      field(out, headers.name(i), headers.value(i));
  joined_field(out, headers, FieldName::via, "Via", "1.1 tlsreactor");
  framing_fields(out, facts.body, facts.content_length);
  if (facts.switching)
    field(out, "Connection", "upgrade");
  else if (!facts.keep_alive)
    field(out, "Connection", "close");
  else if (facts.client_http10)
    field(out, "Connection", "keep-alive");
  out.append("\r\n");
}

void response_fields(const HeaderList& headers, HeaderList& out) {
  out.clear();
  for (std::size_t i = 0; i < headers.size(); ++i)
    if (forwarded_response_field(headers, i, false, false))
      out.add(headers.name(i), headers.value(i));
  std::string via;
  joined_field(via, headers, FieldName::via, "", "1.1 tlsreactor");
  // joined_field wrote ": VALUE\r\n" after an empty name.
  out.add("Via", std::string_view(via).substr(2, via.size() - 4));
}

std::string error_response(int status, std::string_view why) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out.append(http::reason_phrase(status)).append("\r\n");
  field(out, "Content-Type", "text/plain");
  number_field(out, "Content-Length", why.size() + 1);
  field(out, "Connection", "close");
  out.append("\r\n").append(why).append("\n");
  return out;
}

}  // namespace apps::proxy
