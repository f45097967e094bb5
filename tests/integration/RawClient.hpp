// A raw loopback TCP client for what the other peers cannot time: every wait is bounded.
#pragma once

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "tests/integration/Peers.hpp"

namespace integration {

class RawClient {
 public:
  explicit RawClient(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void send(const std::string& bytes) { REQUIRE(try_send(bytes)); }
  // For a peer that may have closed meanwhile: false when the bytes were not all taken.
  bool try_send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Reads until `part` has arrived; false on EOF or when `timeout` passes first.
  bool read_until(const std::string& part, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (received_.find(part) == std::string::npos) {
      if (read_some(deadline) <= 0) return false;
    }
    return true;
  }
  // Whether the server closes (EOF or reset) within `timeout`, reading what comes before.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const ssize_t n = read_some(deadline);
      if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
      if (n < 0) return false;
    }
  }
  const std::string& received() const { return received_; }

 private:
  // >0 bytes read, 0 EOF, -1 with errno (EAGAIN when the deadline passed).
  ssize_t read_some(std::chrono::steady_clock::time_point deadline) {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(until(deadline).count()));
    if (ready <= 0) {
      errno = EAGAIN;
      return -1;
    }
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) received_.append(buf, static_cast<std::size_t>(n));
    return n;
  }

  int fd_;
  std::string received_;
};

}  // namespace integration
