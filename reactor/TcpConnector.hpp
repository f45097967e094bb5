// Outgoing TCP connections by host name or address.
#pragma once

#include <chrono>
#include <memory>

#include "reactor/Address.hpp"
#include "reactor/Connection.hpp"
#include "reactor/Handler.hpp"

namespace reactor {

class Loop;

/// Settings of every attempt a TcpConnector makes.
struct ConnectOptions {
  std::chrono::milliseconds timeout{10000};  ///< covers name resolution and every address tried
  /// Given to each connection once connected.
  ConnectionOptions connection{};
};

/// Stateless front door; each connect() is an independent attempt. Loop thread only.
class TcpConnector {
 public:
  /// Cheap: holds the loop (which must outlive it) and the options; attempts in flight do not need
  /// the connector to stay alive.
  explicit TcpConnector(Loop& loop, ConnectOptions options = {}) : loop_(loop), options_(options) {}

  /// Resolves target.host (unless it is an IP literal), tries each address in turn, and lands in
  /// handler->on_open, or in handler->on_close with an error such as
  /// "connect 127.0.0.1:9: connection refused" (no on_open in that case).
  void connect(const HostPort& target, std::unique_ptr<Handler> handler);

 private:
  Loop& loop_;
  ConnectOptions options_;
};

}  // namespace reactor
