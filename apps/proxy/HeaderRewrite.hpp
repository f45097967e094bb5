// What a proxy changes in the heads it forwards (RFC 9110 7.6): hop-by-hop fields removed,
// framing re-derived from how the body is actually sent, X-Forwarded-* and Via added. Pure
// functions over a reusable field list, so each connection builds a head in one string and the
// rules are tested without sockets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace apps::proxy {

// The field names the rewrite treats specially. Each field's is recognised once, when it is
// added, so that writing a head compares small integers instead of names.
enum class FieldName : std::uint8_t {
  other,
  host,
  connection,
  keep_alive,
  proxy_connection,
  te,
  trailer,
  transfer_encoding,
  upgrade,
  content_length,
  expect,
  via,
  x_forwarded_for,
  x_forwarded_proto,
  proxy_authorization,
  client_cert,  // RFC 9440: only the proxy says which certificate the client showed
  client_cert_chain,
  x_request_id,
  traceparent,
  tracestate,
};

// A message's header fields in order, in one buffer that keeps its capacity across messages.
class HeaderList {
 public:
  void clear() {
    text_.clear();
    fields_.clear();
    present_ = 0;
  }
  void add(std::string_view name, std::string_view value);
  // Removes every field called `name` (any case); the others keep their order.
  void remove(std::string_view name);
  std::size_t size() const { return fields_.size(); }
  std::string_view name(std::size_t i) const;
  std::string_view value(std::size_t i) const;
  FieldName kind(std::size_t i) const { return fields_[i].kind; }
  // Whether some field is called `kind`'s name (never asked for FieldName::other).
  bool has(FieldName kind) const { return (present_ >> static_cast<unsigned>(kind) & 1U) != 0; }
  // The first field called `name` (any case), or nullptr-like empty view with found = false.
  bool find(std::string_view name, std::string_view& value) const;

 private:
  struct Field {
    std::uint32_t begin = 0, name_size = 0, value_size = 0;
    FieldName kind = FieldName::other;
  };
  std::string text_;
  std::vector<Field> fields_;
  std::uint32_t present_ = 0;  // bit per FieldName
};

// The FieldName of a header name, in any case.
FieldName field_name(std::string_view name);

// How a forwarded body is delimited on the way out.
enum class BodyFraming {
  none,         // no body; for a bodiless response the upstream's Content-Length is kept
  length,       // Content-Length: the size given
  chunked,      // Transfer-Encoding: chunked, written by the proxy
  until_close,  // the body ends when the proxy closes the connection (HTTP/1.0 clients)
};

struct RequestFacts {
  std::string_view method;
  std::string_view target;
  std::string_view client_ip;      // appended to X-Forwarded-For
  bool client_tls = true;          // X-Forwarded-Proto: https or http
  std::string_view upstream_host;  // the Host for a request that came without one ("h:p")
  BodyFraming body = BodyFraming::none;
  std::uint64_t content_length = 0;
  // The request asks for a WebSocket (is_websocket_upgrade): "Connection: upgrade" and
  // "Upgrade: websocket" go to the upstream, the only case these hop-by-hop fields pass.
  bool websocket = false;
  // X-Request-Id for the upstream (the client's is dropped: this one is the client's when it
  // was kept); "" sends none.
  std::string_view request_id;
  // RFC 9440 Client-Cert and Client-Cert-Chain values (ClientCertFields.hpp); "" sends none.
  // The client's own fields of these names are always dropped.
  std::string_view client_cert;
  std::string_view client_cert_chain;
};

// Whether a request asks to become a WebSocket that the proxy relays: an HTTP/1.1 GET without
// a body whose Connection lists "upgrade" and whose Upgrade lists "websocket" (RFC 6455 4.1).
// Any other Upgrade (h2c, a body, HTTP/1.0) is not forwarded: the request goes on as a plain
// one. h2c would let the client speak HTTP/2 past the proxy's per-request rules, and a body
// would have to be framed to the upstream before a switch whose answer may come first.
bool is_websocket_upgrade(std::string_view method, bool http10, const HeaderList& headers,
                          bool has_body);

// Appends the HTTP/1.1 request head for the upstream to `out`. Expect is removed (the proxy
// answers 100-continue itself) and so is Proxy-Authorization (meant for this hop).
void write_request_head(std::string& out, const RequestFacts& facts, const HeaderList& headers);

struct ResponseFacts {
  int status = 200;
  std::string_view reason;
  bool client_http10 = false;  // say "Connection: keep-alive" to keep an HTTP/1.0 client
  bool keep_alive = true;      // false: "Connection: close"
  BodyFraming body = BodyFraming::none;
  std::uint64_t content_length = 0;
  // A 101 that switches to the WebSocket: the upstream's Upgrade is kept and "Connection:
  // upgrade" is said instead of keep-alive or close.
  bool switching = false;
};

// Appends the response head for the client to `out`.
void write_response_head(std::string& out, const ResponseFacts& facts, const HeaderList& headers);

// The fields of a response for a client driver that frames it itself (http::Response): what
// write_response_head forwards but Content-Length, with Via, into `out` (cleared first).
// Framing and Connection fields are the driver's; a HEAD's or 304's Content-Length is its too
// (Response::head's length).
void response_fields(const HeaderList& headers, HeaderList& out);

// A complete error response with a short text/plain body saying `why`, and Connection: close.
std::string error_response(int status, std::string_view why);

}  // namespace apps::proxy
