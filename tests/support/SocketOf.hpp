// Finds this process's own descriptor for one end of a loopback TCP connection, by its two
// addresses, so a test can ask the kernel about that socket (TCP_NODELAY, TCP_INFO) without the
// reactor handing out descriptors.
#pragma once

// linux/tcp.h, not netinet/tcp.h: glibc's struct tcp_info lacks tcpi_segs_in.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "reactor/Address.hpp"

namespace test_support {

inline bool same_address(const sockaddr_storage& ss, const reactor::Address& a) {
  return a.valid() && std::memcmp(&ss, a.sockaddr_ptr(), a.sockaddr_len()) == 0;
}

// The descriptor whose socket is bound to `local` and connected to `peer`, or -1.
inline int socket_of(const reactor::Address& local, const reactor::Address& peer) {
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    int fd = -1;
    try {
      fd = std::stoi(it->path().filename().string());
    } catch (const std::exception&) {
      continue;
    }
    sockaddr_storage mine{};
    sockaddr_storage theirs{};
    socklen_t mine_len = sizeof mine;
    socklen_t theirs_len = sizeof theirs;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&mine), &mine_len) == 0 &&
        getpeername(fd, reinterpret_cast<sockaddr*>(&theirs), &theirs_len) == 0 &&
        same_address(mine, local) && same_address(theirs, peer))
      return fd;
  }
  return -1;
}

// TCP_NODELAY of `fd`: 1 or 0, or -1 if it cannot be read.
inline int nodelay_of(int fd) {
  int on = 0;
  socklen_t len = sizeof on;
  return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 ? on : -1;
}

// Segments `fd` has received (TCP_INFO's tcpi_segs_in, SYN-ACK included), or -1.
inline long segments_in(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0
             ? static_cast<long>(info.tcpi_segs_in)
             : -1;
}

}  // namespace test_support
