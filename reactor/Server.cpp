#include "reactor/Server.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <string>
#include <thread>
#include <utility>

#include "reactor/Log.hpp"
#include "reactor/Loop.hpp"
#include "reactor/LoopImpl.hpp"
#include "reactor/Signal.hpp"
#include "reactor/Timer.hpp"

namespace reactor {
namespace {

// Wraps the handlers of an extra listener: counts them, so that the drain can tell them from
// the connections it waits for, and keeps the drain's notice from them.
class Undrained final : public Handler {
 public:
  Undrained(std::unique_ptr<Handler> inner, std::size_t& live)
      : inner_(std::move(inner)), live_(live) {
    ++live_;
  }
  ~Undrained() override { --live_; }
  Undrained(const Undrained&) = delete;
  Undrained& operator=(const Undrained&) = delete;

  void on_open(Connection& conn) override { inner_->on_open(conn); }
  void on_data(Connection& conn, std::span<const std::byte> data) override {
    inner_->on_data(conn, data);
  }
  void on_drain(Connection& conn) override { inner_->on_drain(conn); }
  void on_peer_closed(Connection& conn) override { inner_->on_peer_closed(conn); }
  void on_server_stopping(Connection&) override {}
  void on_close(Connection& conn, const Error& error) override { inner_->on_close(conn, error); }

 private:
  std::unique_ptr<Handler> inner_;
  std::size_t& live_;
};

}  // namespace

struct Server::Worker {
  std::unique_ptr<Loop> loop = std::make_unique<Loop>();
  std::unique_ptr<TcpListener> listener;
  std::vector<std::unique_ptr<TcpListener>> extras;  // loop 0 only
  std::size_t undrained = 0;                         // live handlers of `extras` (loop thread)
  bool drained = false;
  std::unique_ptr<Signal> sigint;
  std::unique_ptr<Signal> sigterm;
  std::unique_ptr<Signal> sighup;
  std::unique_ptr<Signal> sigusr1;
  std::unique_ptr<Timer> drain_timer;
  std::thread thread;
};

Server::Server(ServerOptions options, HandlerFactory factory)
    : options_(std::move(options)),
      factory_(std::make_shared<const HandlerFactory>(std::move(factory))) {
  if (options_.threads == 0) options_.threads = 1;
  if (options_.threads > 1) options_.listener.reuse_port = true;
}

Server::~Server() {
  stop();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

Error Server::listen() {
  Address address = options_.listen;
  const int passed = std::exchange(options_.listen_fd, -1);
  for (unsigned i = 0; i < options_.threads; ++i) {
    auto worker = std::make_unique<Worker>();
    // Each accept asks whichever factory is current: replace_factory() takes effect at once.
    HandlerFactory current = [this]() -> std::unique_ptr<Handler> {
      const auto factory = factory_.load();
      return *factory ? (*factory)() : nullptr;
    };
    worker->listener =
        std::make_unique<TcpListener>(*worker->loop, std::move(current), options_.listener);
    if (passed >= 0) {
      // The first loop takes the socket itself; the others accept on copies of it.
      const int fd = i == 0 ? passed : ::fcntl(passed, F_DUPFD_CLOEXEC, 0);
      if (fd < 0) return Error(std::error_code(errno, std::system_category()), "dup passed socket");
      if (Error error = worker->listener->adopt(fd)) return error;
    } else if (Error error = worker->listener->listen(address)) {
      return error;
    }
    // With port 0 the first bind picks the port; the other loops join it through SO_REUSEPORT.
    if (i == 0) address = bound_ = worker->listener->local_address();
    workers_.push_back(std::move(worker));
  }
  Worker& main = *workers_.front();
  for (const ExtraListener& extra : options_.extra_listeners) {
    HandlerFactory counted = [factory = extra.factory,
                              live = &main.undrained]() -> std::unique_ptr<Handler> {
      auto inner = factory();
      if (!inner) return nullptr;
      return std::make_unique<Undrained>(std::move(inner), *live);
    };
    auto listener = std::make_unique<TcpListener>(*main.loop, std::move(counted), extra.options);
    if (Error error = listener->listen(extra.address)) return error;
    extra_bound_.push_back(listener->local_address());
    main.extras.push_back(std::move(listener));
  }
  // Watched from here, not from run(): whoever sees the listening line may signal at once.
  watch_signals();
  return {};
}

void Server::watch_signals() {
  if (!options_.handle_signals) return;
  Worker& main = *workers_.front();
  auto on_signal = [this](int signum) {
    log::info(std::string(signum == SIGINT ? "SIGINT" : "SIGTERM") + ": stopping gracefully");
    stop();
  };
  main.sigint = std::make_unique<Signal>(*main.loop);
  main.sigterm = std::make_unique<Signal>(*main.loop);
  main.sigint->start(SIGINT, on_signal);
  main.sigterm->start(SIGTERM, on_signal);
  if (options_.on_reload) {
    main.sighup = std::make_unique<Signal>(*main.loop);
    main.sighup->start(SIGHUP, [this](int) {
      log::info("SIGHUP: reloading");
      options_.on_reload();
    });
  }
  if (options_.on_reopen) {
    main.sigusr1 = std::make_unique<Signal>(*main.loop);
    main.sigusr1->start(SIGUSR1, [this](int) {
      log::info("SIGUSR1: reopening log files");
      options_.on_reopen();
    });
  }
}

Address Server::extra_address(std::size_t index) const {
  return index < extra_bound_.size() ? extra_bound_[index] : Address();
}

int Server::run() {
  if (workers_.empty()) {
    if (Error error = listen()) {
      log::error(error.message());
      return 1;
    }
  }
  Worker& main = *workers_.front();
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    Worker* w = workers_[i].get();
    w->thread = std::thread([this, w] {
      if (options_.on_loop_start) options_.on_loop_start();
      w->loop->run();
      // Torn down on its own thread: what its connections hold (OpenSSL async jobs, thread-
      // local buffers) belongs to this thread.
      w->loop->close();
    });
  }
  if (options_.on_loop_start) options_.on_loop_start();
  main.loop->run();
  main.loop->close();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
  return 0;
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  if (options_.on_stopping) options_.on_stopping();
  loops_draining_.store(workers_.size());
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->loop->post([this, worker] { drain(*worker); });
  }
}

void Server::replace_factory(HandlerFactory factory) {
  factory_.store(std::make_shared<const HandlerFactory>(std::move(factory)));
}

void Server::drain(Worker& w) {
  w.listener->close();
  w.sigint.reset();
  w.sigterm.reset();
  w.sighup.reset();
  Loop& loop = *w.loop;
  const std::size_t live = loop.connection_count() - std::min(w.undrained, loop.connection_count());
  if (live > 0)
    log::info("draining " + std::to_string(live) + " connection(s) for up to " +
              std::to_string(options_.drain_timeout.count()) + " ms");
  loop.impl().for_each([](detail::LoopMember& m) { m.notify_server_stopping(); });
  const std::uint64_t deadline =
      loop.now() + static_cast<std::uint64_t>(options_.drain_timeout.count());
  w.drain_timer = std::make_unique<Timer>(loop);
  // Polling the count is simpler than a per-close hook and costs nothing outside a drain.
  // Loop 0 ends last, so that its extra listeners answer until every loop has drained.
  const bool is_main = &w == workers_.front().get();
  auto check = [this, &loop, &w, deadline, is_main] {
    if (loop.connection_count() <= w.undrained) {
      if (!w.drained) {
        w.drained = true;
        loops_draining_.fetch_sub(1);
      }
      if (!is_main || loops_draining_.load() == 0) {
        w.drain_timer->stop();
        loop.stop();
      }
      return;
    }
    if (loop.now() >= deadline) {
      log::warn("drain deadline passed: aborting " + std::to_string(loop.connection_count()) +
                " connection(s)");
      loop.for_each_connection([](Connection& c) { c.abort(); });
    }
  };
  w.drain_timer->start(std::chrono::milliseconds(0), std::chrono::milliseconds(50), check);
}

}  // namespace reactor
