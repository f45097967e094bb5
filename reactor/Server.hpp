// A TCP server on N loops and N threads, each with its own SO_REUSEPORT listener, that drains
// gracefully on SIGINT/SIGTERM.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "reactor/Address.hpp"
#include "reactor/Error.hpp"
#include "reactor/Handler.hpp"
#include "reactor/TcpListener.hpp"

namespace reactor {

class Loop;

/// A listener beside the main one, bound on loop 0 only, whose connections a drain leaves alone:
/// it keeps accepting and serving until loop 0 closes, after every loop's drain is over. Made for
/// an admin endpoint that must answer health checks (readiness 503) while the server drains.
/// Its handlers never see on_server_stopping, and its connections do not hold up the drain
/// (only a drain that reaches its deadline aborts them, along with everything else on loop 0).
struct ExtraListener {
  /// Where to bind; resolved by the caller (Address::resolve_for_listen) before listen().
  Address address;
  HandlerFactory factory;  ///< called on loop 0's thread only
  /// Backlog, connection cap and per-connection settings of this listener alone.
  ListenOptions options{};
};

/// What Server's constructor takes; read once, at listen() (a reload changes handlers through
/// replace_factory(), not these).
struct ServerOptions {
  /// The main listener's address, bound once per loop (SO_REUSEPORT) when threads > 1.
  Address listen;
  /// An already-listening TCP socket (systemd's socket activation) served instead of binding
  /// `listen`; every loop accepts on it (loops past the first on a dup()). The server owns it
  /// from listen() on. -1: bind `listen`.
  int listen_fd = -1;
  /// Loops, one per thread; loop 0 runs on the thread that calls run().
  unsigned threads = 1;
  ListenOptions listener{};  ///< reuse_port is forced on when threads > 1
  /// After a stop request: stop accepting, let connections finish for this long, then abort
  /// what is left.
  std::chrono::milliseconds drain_timeout{10000};
  bool handle_signals = true;  ///< SIGINT and SIGTERM request a graceful stop
  /// With handle_signals: called on loop 0's thread for each SIGHUP (reload certificates, ticket
  /// keys, ...). Without it SIGHUP keeps its default action.
  std::function<void()> on_reload;
  /// With handle_signals: called on loop 0's thread for each SIGUSR1 (reopen log files after
  /// logrotate moved them). Without it SIGUSR1 keeps its default action.
  std::function<void()> on_reopen;
  /// Called once when a drain begins (a signal or stop()), on the thread that asked for it,
  /// before any loop stops accepting.
  std::function<void()> on_stopping;
  /// Called on each loop's thread before it serves (per-thread setup such as OpenSSL's async
  /// job pool).
  std::function<void()> on_loop_start;
  /// Bound by listen() after the main listener, in order; extra_address(i) tells where.
  std::vector<ExtraListener> extra_listeners;
};

/// Thread-safety: stop() and replace_factory() may be called from any thread (and from
/// signal-driven callbacks); the rest from the thread that constructed the server.
class Server {
 public:
  /// The factory is called on worker threads, concurrently: it must be thread-safe.
  Server(ServerOptions options, HandlerFactory factory);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Creates the loops, binds every listener and (with handle_signals) starts watching the
  /// signals. On success local_address() is the bound address.
  Error listen();
  /// The main listener's bound address (the real port when the options asked for port 0); invalid
  /// before listen() succeeded. Fixed at listen(), so any thread may ask.
  Address local_address() const { return bound_; }
  /// The bound address of options.extra_listeners[index], after listen() succeeded. Like
  /// local_address(), fixed at listen(), so any thread may ask.
  Address extra_address(std::size_t index) const;
  /// Runs every loop (loop 0 on the calling thread) until a stop completes. Returns 0 after a
  /// graceful drain.
  int run();
  /// Begins the graceful drain. Idempotent.
  void stop();
  /// Connections accepted from now on get their handlers from `factory` (a reload: new
  /// certificates, new options); connections already open keep the handlers they have.
  void replace_factory(HandlerFactory factory);
  /// True from the moment a stop was requested (a signal or stop()). Any thread.
  bool draining() const noexcept { return stopping_.load(std::memory_order_relaxed); }

 private:
  struct Worker;
  void watch_signals();
  void drain(Worker& worker);

  ServerOptions options_;
  /// Read once per accept, on every loop; replaced whole, never mutated.
  std::atomic<std::shared_ptr<const HandlerFactory>> factory_;
  std::vector<std::unique_ptr<Worker>> workers_;
  Address bound_;
  std::vector<Address> extra_bound_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> loops_draining_{0};  ///< loops whose drain has not finished yet
};

}  // namespace reactor
