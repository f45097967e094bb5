#include "apps/http/WebSocketHandshake.hpp"

#include "apps/http/Base64.hpp"
#include "apps/http/Fields.hpp"
#include "tls/Digest.hpp"

namespace apps::http {

namespace {

// RFC 6455 1.3: appended to the client's key before hashing, so that only a server that
// understood the WebSocket request can produce the answer.
constexpr std::string_view accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

}  // namespace

std::string websocket_accept(std::string_view key) {
  std::string input(key);
  input += accept_guid;
  const auto digest = tls::sha1(std::as_bytes(std::span(input.data(), input.size())));
  return base64_encode(digest);
}

void WebSocketHandshake::on_request_line(std::string_view method, int http_major, int http_minor) {
  get_ = method == "GET";
  http11_ = http_major > 1 || (http_major == 1 && http_minor >= 1);
}

void WebSocketHandshake::on_header(std::string_view name, std::string_view value) {
  value = trim_ows(value);
  // Connection and Upgrade are lists that may also come as several fields.
  if (equals_nocase(name, "upgrade")) {
    upgrade_websocket_ = upgrade_websocket_ || lists_token(value, "websocket");
  } else if (equals_nocase(name, "connection")) {
    connection_upgrade_ = connection_upgrade_ || lists_token(value, "upgrade");
  } else if (equals_nocase(name, "host")) {
    has_host_ = true;
  } else if (equals_nocase(name, "sec-websocket-key")) {
    ++keys_;
    key_ = value;
  } else if (equals_nocase(name, "sec-websocket-version")) {
    ++versions_;
    version_13_ = value == "13";
  }
}

WebSocketHandshake::Verdict WebSocketHandshake::verdict() const {
  if (!get_) return {400, "a WebSocket handshake must be a GET", {}};
  if (!http11_) return {400, "a WebSocket handshake needs HTTP/1.1", {}};
  if (!has_host_) return {400, "a WebSocket handshake needs a Host field", {}};
  if (versions_ != 1 || !version_13_)
    return {426, "only WebSocket version 13 is supported", "Sec-WebSocket-Version: 13\r\n"};
  if (keys_ != 1) return {400, "a WebSocket handshake needs one Sec-WebSocket-Key", {}};
  // The key is a nonce: 16 bytes, base64-encoded (RFC 6455 4.1, client requirement 7).
  const auto nonce = base64_decode(key_);
  if (!nonce || nonce->size() != 16)
    return {400, "Sec-WebSocket-Key is not 16 bytes in base64", {}};
  std::string head =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  head += websocket_accept(key_);
  head += "\r\n\r\n";
  return {101, {}, std::move(head)};
}

}  // namespace apps::http
