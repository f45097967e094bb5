#include "bench/tls_load/HoldLoad.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <vector>

#include "bench/tls_load/AttemptPool.hpp"
#include "bench/tls_load/Request.hpp"

namespace bench::tls_load {

namespace {

using namespace std::chrono_literals;

// Tags of idle sockets carry this bit over their index in idle_; slots use their plain index.
constexpr std::uint64_t idle_bit = std::uint64_t{1} << 62;

class HoldLoad final : public AttemptPool::Owner {
 public:
  HoldLoad(const Options& options, ClientTls& tls, Poller& poller, ErrorLog& errors)
      : options_(options),
        poller_(poller),
        errors_(errors),
        request_(http_request(options, RequestKind::keep_alive)),
        pool_(std::min(options.connections, hold_window), options.target, request_,
              Attempt::Ending::keep_open, tls, poller, errors, *this),
        // Failures are retried, but not forever: a server that refuses most connections ends
        // the run instead of looping.
        max_attempts_(options.connections + options.connections / 10 + 100) {
    idle_.reserve(options.connections);
    for (unsigned i = 1; i <= options.source_ips && options.source_ips > 1; ++i)
      sources_.push_back(*reactor::Address::from_ip("127.0.0." + std::to_string(i), 0));
  }

  ~HoldLoad() {
    for (const int fd : idle_)
      if (fd >= 0) ::close(fd);
  }
  HoldLoad(const HoldLoad&) = delete;
  HoldLoad& operator=(const HoldLoad&) = delete;

  HoldResult run() {
    const auto start = Clock::now();
    auto last_sweep = start;
    auto last_progress = start;
    auto hold_end = Clock::time_point::max();
    pool_.fill(start);
    while (!stopping_) {
      for (const auto& event : poller_.wait(100ms)) {
        if (event.data.u64 == Poller::signal_tag)
          stopping_ = true;
        else if ((event.data.u64 & idle_bit) != 0)
          on_idle_event(event.data.u64 & ~idle_bit);
        else
          pool_.on_ready(event.data.u64);
      }
      const auto now = Clock::now();
      if (!result_.ready && held() == options_.connections) {
        result_.ready = true;
        // Hand back what the handshakes in flight used, so the client's own RSS while holding
        // is what the held connections cost it (an int each), not its peak.
        ::malloc_trim(0);
        result_.seconds_to_ready = std::chrono::duration<double>(now - start).count();
        std::printf("ready %u\n", options_.connections);
        std::fflush(stdout);
        hold_end = now + options_.duration;
      }
      if (!result_.ready && pool_.active() == 0) break;  // attempts exhausted
      if (now >= hold_end) stopping_ = true;
      if (now - last_sweep >= 100ms) {
        pool_.sweep_timeouts(now);
        last_sweep = now;
      }
      if (!result_.ready && now - last_progress >= 5s) {
        std::fprintf(stderr, "bench-tls-load: %zu of %u connections up\n", held(),
                     options_.connections);
        last_progress = now;
      }
    }
    if (!result_.ready)
      result_.seconds_to_ready = std::chrono::duration<double>(Clock::now() - start).count();
    pool_.close_all();
    result_.connections = result_.ready ? options_.connections : held();
    return result_;
  }

  bool want_another(reactor::Address& source) override {
    if (held() + pool_.active() >= options_.connections || attempts_ >= max_attempts_ || stopping_)
      return false;
    if (!sources_.empty()) source = sources_[attempts_ % sources_.size()];
    ++attempts_;
    return true;
  }

  // Frees the TLS state, keeps the socket, and watches it only for the server closing it.
  void completed(Attempt& attempt, Clock::time_point) override {
    attempt.drop_tls();
    const int fd = attempt.release_fd();
    if (!poller_.modify(fd, EPOLLRDHUP, idle_bit | idle_.size())) {
      ::close(fd);
      errors_.record("epoll_ctl failed");
      return;
    }
    idle_.push_back(fd);
  }

 private:
  std::size_t held() const { return idle_.size() - result_.closed_while_idle; }

  void on_idle_event(std::size_t index) {
    if (idle_[index] < 0) return;
    ::close(idle_[index]);
    idle_[index] = -1;
    ++result_.closed_while_idle;
    errors_.record("the server closed an idle connection");
  }

  const Options& options_;
  Poller& poller_;
  ErrorLog& errors_;
  const std::string request_;
  AttemptPool pool_;
  std::vector<reactor::Address> sources_;
  std::vector<int> idle_;  // -1 once the server closed it
  HoldResult result_;
  const std::uint64_t max_attempts_;
  std::uint64_t attempts_ = 0;
  bool stopping_ = false;
};

// Each source address reaches the one target from at most the ephemeral port range; past that
// connect() fails with EADDRNOTAVAIL, so say so up front.
void warn_if_ports_run_out(const Options& options) {
  unsigned low = 0;
  unsigned high = 0;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  const std::uint64_t ports = high >= low ? std::uint64_t{high - low + 1} : 0;
  if (ports == 0 || options.connections <= ports * options.source_ips) return;
  std::fprintf(stderr,
               "bench-tls-load: warning: %u connections from %u source address(es) exceed the "
               "%" PRIu64 " ephemeral ports each has; use --source-ips %" PRIu64 "\n",
               options.connections, options.source_ips, ports,
               (options.connections + ports - 1) / ports);
}

}  // namespace

HoldResult run_hold(const Options& options, ClientTls& tls, Poller& poller, ErrorLog& errors) {
  warn_if_ports_run_out(options);
  return HoldLoad(options, tls, poller, errors).run();
}

}  // namespace bench::tls_load
