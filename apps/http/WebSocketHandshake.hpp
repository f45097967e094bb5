// The server's side of the WebSocket opening handshake (RFC 6455 4.2): reads a request head and
// decides whether it asks to switch to WebSocket and, if so, whether the ask is valid, with the
// response to send either way. No extensions (permessage-deflate) and no subprotocol are ever
// selected: the answer names neither, which RFC 6455 4.2.2 allows.
#pragma once

#include <string>
#include <string_view>

namespace apps::http {

// Thread-safety: none; one per request, on the connection's loop thread. Feed it the request
// line, then every header field in order (as HttpEvents::on_start_line and on_header deliver
// them), then ask. Views passed in are not kept.
class WebSocketHandshake {
 public:
  // What to answer.
  struct Verdict {
    // 101 when the handshake succeeds; 400 for a malformed ask; 426 for a
    // Sec-WebSocket-Version other than 13 (or none: a pre-RFC client).
    int status = 400;
    // Why it failed, one line for the response body and the log; empty on success.
    std::string_view reason;
    // The whole response head ending in the blank line: the 101 with Sec-WebSocket-Accept on
    // success. On failure only the fields the status needs ("Sec-WebSocket-Version: 13\r\n"
    // for 426), for the caller's own error response.
    std::string head;
  };

  void on_request_line(std::string_view method, int http_major, int http_minor);
  void on_header(std::string_view name, std::string_view value);

  // Whether the request asks to switch to WebSocket: an Upgrade field lists "websocket" and a
  // Connection field lists "upgrade" (any case). A request that does not is plain HTTP, and
  // verdict() does not apply to it.
  bool wants_websocket() const { return upgrade_websocket_ && connection_upgrade_; }

  // The answer to a request for which wants_websocket() is true.
  Verdict verdict() const;

 private:
  bool get_ = false;
  bool http11_ = false;  // HTTP/1.1 or later
  bool upgrade_websocket_ = false;
  bool connection_upgrade_ = false;
  bool has_host_ = false;
  int keys_ = 0;  // Sec-WebSocket-Key fields seen; exactly one is valid
  std::string key_;
  bool version_13_ = false;
  int versions_ = 0;
};

// RFC 6455 4.2.2's Sec-WebSocket-Accept for a Sec-WebSocket-Key value: base64(SHA-1(key +
// the protocol's GUID)).
std::string websocket_accept(std::string_view key);

}  // namespace apps::http
