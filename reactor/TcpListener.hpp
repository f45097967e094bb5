// Accepts TCP connections and hands each to a new Handler from a factory.
#pragma once

#include <memory>

#include "reactor/Address.hpp"
#include "reactor/Connection.hpp"
#include "reactor/Error.hpp"
#include "reactor/Handler.hpp"
#include "reactor/detail/AcceptGate.hpp"
#include "reactor/detail/HandleOwner.hpp"

namespace reactor {

class Loop;

/// A listener's settings, read once by TcpListener::listen().
struct ListenOptions {
  /// listen(2)'s queue of connections the kernel completed and we have not accepted yet.
  int backlog = 511;
  bool reuse_port = false;  ///< SO_REUSEPORT: several loops (threads) share one port
  /// At most this many accepted connections open at once (0: no limit). At the limit the
  /// listener stops accepting (the kernel's backlog holds the next clients, unserved) and
  /// accepts again when one of its connections has closed.
  std::size_t max_connections = 10000;
  /// Given to every connection this listener accepts.
  ConnectionOptions connection{};
};

/// Owned by the application. Destroying or close()-ing it stops accepting; connections already
/// accepted live on. Loop thread only.
class TcpListener final : public detail::HandleOwner {
 public:
  /// Binds nothing until listen(). `factory` is called on this loop's thread for each accepted
  /// connection, and its Handler owns that connection's state. The loop must outlive the listener.
  TcpListener(Loop& loop, HandlerFactory factory, ListenOptions options = {});
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  /// Binds and listens. The error reads like "listen 127.0.0.1:80: permission denied".
  Error listen(const Address& address);
  /// Accepts on `fd`, a TCP socket someone else bound and put in listening state (systemd's
  /// socket activation). The listener owns `fd` from this call on, whatever the result.
  Error adopt(int fd);
  /// The bound address (the real port when listening on port 0).
  Address local_address() const;
  /// Stops accepting and closes the socket; accepted connections live on. Idempotent.
  void close();
  /// Between a successful listen() and close().
  bool listening() const noexcept { return static_cast<bool>(handle_); }
  /// Connections accepted since listen(), closed ones included.
  std::uint64_t accepted() const noexcept { return accepted_; }
  /// Accepted connections not yet closed.
  std::size_t open_connections() const noexcept { return gate_->open; }
  /// At max_connections, with a client waiting to be accepted.
  bool paused() const noexcept { return waiting_; }

 private:
  void on_loop_closing() noexcept override;
  static void on_connection(uv_stream_s* server, int status) noexcept;
  void accept_one();
  void slot_freed();
  void stop_accepting();

  Loop& loop_;
  HandlerFactory factory_;
  ListenOptions options_;
  detail::OwnedHandle<uv_tcp_s> handle_;
  std::shared_ptr<detail::AcceptGate> gate_;
  std::uint64_t accepted_ = 0;
  bool waiting_ = false;  ///< a connection is ready but the gate is full: libuv stopped polling
  bool nodelay_inherited_ = false;  ///< the listening socket has TCP_NODELAY
};

}  // namespace reactor
