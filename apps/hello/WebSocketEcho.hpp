// hello's /ws after the handshake: a WebSocket echo (every message goes back with its opcode),
// driving an apps::http::WebSocketSession over the connection. HelloExchange answers the opening
// handshake and hands the connection to this object with its 101 (Response::switch_protocols).
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "apps/http/WebSocketSession.hpp"
#include "reactor/Connection.hpp"
#include "reactor/Handler.hpp"

namespace apps::hello {

struct WebSocketEchoOptions {
  // The longest message accepted (all fragments together); a longer one is refused with close
  // code 1009. 1 MiB, the default of Python's websockets (Node's ws allows 100 MiB): a message
  // is held whole, about four times over at the peak (received, joined, framed, queued), so
  // this keeps one connection's worst case to a few MiB. hello's --max-message-bytes.
  std::size_t max_message_bytes = 1024 * 1024;
};

// The connection's handler after the 101: Http1Connection hands the connection over to it
// (Response::switch_protocols), or any handler forwards its callbacks to it. The first calls are
// on_open (once, right after the 101 was written) and on_data with the bytes that came after the
// upgrade request in the same read (the client's first frames), if any. It closes the connection
// itself: after the close handshake, when the peer breaks the protocol, or when the peer ends
// the transport without one. Lives on the connection's loop thread.
//
// Backpressure: when write() reports the queue above its high-water mark the connection stops
// reading until on_drain, so a client that sends without reading holds at most the high-water
// mark plus what one read completes (the answers to its messages, a message at most).
class WebSocketEcho final : public reactor::Handler, private apps::http::WebSocketSession::Events {
 public:
  explicit WebSocketEcho(const WebSocketEchoOptions& options);

  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override;
  void on_drain(reactor::Connection& conn) override;
  // The transport ended with no close handshake (or after ours): nothing more can come.
  void on_peer_closed(reactor::Connection& conn) override;
  // The server is draining: close with 1001 (going away) and wait for the client's answer.
  void on_server_stopping(reactor::Connection& conn) override;

 private:
  void on_message(apps::http::WebSocketSession::Opcode opcode,
                  std::span<const std::byte> payload) override;
  // Writes what the session produced and acts on its state.
  void pump(reactor::Connection& conn);

  apps::http::WebSocketSession session_;
  bool blocked_ = false;  // write() returned false: reading is paused until on_drain
};

}  // namespace apps::hello
