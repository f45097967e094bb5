#include "bench/tls_load/Poller.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bench::tls_load {

Poller::Poller(std::string& error) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0 || ::sigprocmask(SIG_BLOCK, &stop, nullptr) != 0) {
    error = std::string("epoll: ") + std::strerror(errno);
    return;
  }
  signal_fd_ = ::signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0 || !add(signal_fd_, EPOLLIN, signal_tag))
    error = std::string("signalfd: ") + std::strerror(errno);
}

Poller::~Poller() {
  if (signal_fd_ >= 0) ::close(signal_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool Poller::add(int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event event{};
  event.events = events | EPOLLET;
  event.data.u64 = tag;
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0;
}

bool Poller::modify(int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event event{};
  event.events = events | EPOLLET;
  event.data.u64 = tag;
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) == 0;
}

std::span<const epoll_event> Poller::wait(std::chrono::milliseconds timeout) {
  const int n = ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()),
                             static_cast<int>(timeout.count()));
  if (n <= 0) return {};
  for (int i = 0; i < n; ++i) {
    if (events_[i].data.u64 != signal_tag) continue;
    signalfd_siginfo info{};
    while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
    }
  }
  return std::span(events_).first(static_cast<std::size_t>(n));
}

}  // namespace bench::tls_load
