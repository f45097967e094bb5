#include "apps/hello/WebSocketEcho.hpp"

#include <string>

namespace apps::hello {

using apps::http::WebSocketSession;

WebSocketEcho::WebSocketEcho(const WebSocketEchoOptions& options)
    : session_(*this, {.max_message_bytes = options.max_message_bytes}) {}

void WebSocketEcho::on_data(reactor::Connection& conn, std::span<const std::byte> data) {
  if (!data.empty()) session_.feed(data);
  pump(conn);
}

void WebSocketEcho::on_drain(reactor::Connection& conn) {
  blocked_ = false;
  if (!conn.is_closing()) conn.resume_reading();
}

void WebSocketEcho::on_peer_closed(reactor::Connection& conn) {
  // Whether or not the close handshake happened, nothing more will arrive: flush what is
  // queued and end. (After a clean close handshake we have begun closing already.)
  conn.close();
}

void WebSocketEcho::on_server_stopping(reactor::Connection& conn) {
  session_.close(apps::http::ws_close::going_away, "server stopping");
  pump(conn);
}

void WebSocketEcho::on_message(WebSocketSession::Opcode opcode,
                               std::span<const std::byte> payload) {
  session_.send(opcode, payload);
}

void WebSocketEcho::pump(reactor::Connection& conn) {
  if (conn.is_closing()) return;
  if (const std::string out = session_.take_output(); !out.empty() && !conn.write(out)) {
    if (!blocked_) conn.pause_reading();
    blocked_ = true;
  }
  // Closed: the handshake is over or the connection failed. RFC 6455 7.1.1 has the server
  // end the TCP connection first; close() flushes the close frame before the FIN.
  if (session_.state() == WebSocketSession::State::closed) conn.close();
}

}  // namespace apps::hello
