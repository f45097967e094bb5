// epoll over the load client's sockets, plus SIGINT/SIGTERM delivered as an event (signalfd),
// so a stop request is seen between two waits and never interrupts OpenSSL mid-call.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

namespace bench::tls_load {

class Poller {
 public:
  // The tag that wait() reports for SIGINT/SIGTERM; callers' tags must differ from it.
  static constexpr std::uint64_t signal_tag = ~std::uint64_t{0};

  // Blocks SIGINT and SIGTERM for this thread and opens the epoll and signal fds; ok() false
  // and `error` set when that fails.
  explicit Poller(std::string& error);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  bool ok() const { return epoll_fd_ >= 0 && signal_fd_ >= 0; }
  // Edge-triggered interest in `events` on `fd`, reported with `tag`. false with errno on failure.
  bool add(int fd, std::uint32_t events, std::uint64_t tag);
  bool modify(int fd, std::uint32_t events, std::uint64_t tag);
  // Waits at most `timeout` for events; returns them (empty after a timeout or EINTR). A
  // pending stop signal is consumed and reported as one event with signal_tag.
  std::span<const epoll_event> wait(std::chrono::milliseconds timeout);

 private:
  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  std::array<epoll_event, 256> events_{};
};

}  // namespace bench::tls_load
