// What an application implements. The same Handler runs over plain TCP and over TLS, as a
// server (made per accepted connection by a HandlerFactory) or as a client.
#pragma once

#include <functional>
#include <memory>
#include <span>

#include "reactor/Connection.hpp"
#include "reactor/Error.hpp"

namespace reactor {

/// Call order: on_open? (on_data | on_drain)* on_peer_closed? ... on_close.
/// on_close is always last and always called once, even when on_open never was (a failed
/// connect, an accept that failed); the handler is destroyed right after it returns.
/// A handler may call close()/abort() from any callback; the connection stays valid until
/// on_close returns.
class Handler {
 public:
  virtual ~Handler() = default;

  /// The connection is established (for TLS: the handshake finished).
  virtual void on_open(Connection& conn) { (void)conn; }
  /// Received bytes. `data` points into a per-loop buffer: valid only during the call.
  virtual void on_data(Connection& conn, std::span<const std::byte> data) = 0;
  /// The write queue fell to the low-water mark after write() had returned false, or to the size
  /// asked by Connection::request_drain().
  virtual void on_drain(Connection& conn) { (void)conn; }
  /// The peer finished sending (TCP FIN, TLS close_notify). We may still write; the default
  /// closes once our queued data is flushed.
  virtual void on_peer_closed(Connection& conn) { conn.close(); }
  /// The server is draining (SIGTERM): finish what is in flight, then close. Default: nothing,
  /// the connection keeps going until it ends or the drain deadline aborts it.
  virtual void on_server_stopping(Connection& conn) { (void)conn; }
  /// Last call. `error` is empty for a clean close.
  virtual void on_close(Connection& conn, const Error& error) {
    (void)conn;
    (void)error;
  }
};

/// Makes one handler per accepted connection; called on the accepting loop's thread.
using HandlerFactory = std::function<std::unique_ptr<Handler>()>;

}  // namespace reactor
