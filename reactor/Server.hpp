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

struct ServerOptions {
  Address listen;
  unsigned threads = 1;
  ListenOptions listener{};  // reuse_port is forced on when threads > 1
  // After a stop request: stop accepting, let connections finish for this long, then abort
  // what is left.
  std::chrono::milliseconds drain_timeout{10000};
  bool handle_signals = true;  // SIGINT and SIGTERM request a graceful stop
  // With handle_signals: called on loop 0's thread for each SIGHUP (reload certificates, ticket
  // keys, ...). Without it SIGHUP keeps its default action.
  std::function<void()> on_reload;
  // Called on each loop's thread before it serves (per-thread setup such as OpenSSL's async
  // job pool).
  std::function<void()> on_loop_start;
};

// Thread-safety: stop() and replace_factory() may be called from any thread (and from
// signal-driven callbacks); the rest from the thread that constructed the server.
class Server {
 public:
  // The factory is called on worker threads, concurrently: it must be thread-safe.
  Server(ServerOptions options, HandlerFactory factory);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Creates the loops, binds every listener and (with handle_signals) starts watching the
  // signals. On success local_address() is the bound address.
  Error listen();
  Address local_address() const { return bound_; }
  // Runs every loop (loop 0 on the calling thread) until a stop completes. Returns 0 after a
  // graceful drain.
  int run();
  // Begins the graceful drain. Idempotent.
  void stop();
  // Connections accepted from now on get their handlers from `factory` (a reload: new
  // certificates, new options); connections already open keep the handlers they have.
  void replace_factory(HandlerFactory factory);

 private:
  struct Worker;
  void watch_signals();
  void drain(Worker& worker);

  ServerOptions options_;
  // Read once per accept, on every loop; replaced whole, never mutated.
  std::atomic<std::shared_ptr<const HandlerFactory>> factory_;
  std::vector<std::unique_ptr<Worker>> workers_;
  Address bound_;
  std::atomic<bool> stopping_{false};
};

}  // namespace reactor
