// What differs between the kernels the reactor runs on (Linux: epoll; FreeBSD and macOS:
// kqueue), kept to this one header so the rest of the code calls no platform-only API bare.
// Header-only and free of libuv, so the TLS engine's library may use it too.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#if defined(__linux__)
#include <sys/eventfd.h>
#else
#include <fcntl.h>
#endif

namespace reactor::detail {

// send() flags for a write that more bytes will follow within the same loop turn. Linux holds
// such bytes back (MSG_MORE) so the next write fills the segment; elsewhere there is no such
// flag and the bytes go at once, which is only less dense on the wire. Writes to a peer that
// is gone must fail with EPIPE rather than raise SIGPIPE: MSG_NOSIGNAL where the kernel has it
// (Linux, FreeBSD); macOS has no such flag, but libuv sets SO_NOSIGPIPE on every socket it
// opens there, and Loop ignores SIGPIPE anyway unless the application handles it.
#if defined(MSG_MORE)
inline constexpr int send_more_flag = MSG_MORE;
#else
inline constexpr int send_more_flag = 0;
#endif
#if defined(MSG_NOSIGNAL)
inline constexpr int send_nosignal_flag = MSG_NOSIGNAL;
#else
inline constexpr int send_nosignal_flag = 0;
#endif

// A descriptor another thread makes readable to wake a poller: an eventfd on Linux, the read
// end of a non-blocking pipe elsewhere (`write_fd` is then the pipe's other end; on Linux both
// are the same descriptor).
struct WakeFd {
  int read_fd = -1;
  int write_fd = -1;
};

// Opens one, close-on-exec and non-blocking; false (errno set) when the system refused.
inline bool open_wake(WakeFd& wake) noexcept {
#if defined(__linux__)
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return false;
  wake = WakeFd{fd, fd};
  return true;
#else
  int ends[2];
  if (::pipe(ends) != 0) return false;
  for (const int fd : ends) {
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
      const int saved = errno;
      ::close(ends[0]);
      ::close(ends[1]);
      errno = saved;
      return false;
    }
  }
  wake = WakeFd{ends[0], ends[1]};
  return true;
#endif
}

// Makes read_fd readable (from any thread). A full pipe already is, so a failed write is fine.
inline void signal_wake(int write_fd) noexcept {
#if defined(__linux__)
  const std::uint64_t one = 1;
  (void)!::write(write_fd, &one, sizeof one);
#else
  const char one = 1;
  (void)!::write(write_fd, &one, sizeof one);
#endif
}

// Takes back every wake-up signalled so far, so the descriptor polls as not readable again.
inline void drain_wake(int read_fd) noexcept {
#if defined(__linux__)
  std::uint64_t count = 0;
  (void)!::read(read_fd, &count, sizeof count);
#else
  char sink[64];
  while (::read(read_fd, sink, sizeof sink) > 0) {
  }
#endif
}

inline void close_wake(const WakeFd& wake) noexcept {
  if (wake.read_fd >= 0) ::close(wake.read_fd);
  if (wake.write_fd >= 0 && wake.write_fd != wake.read_fd) ::close(wake.write_fd);
}

}  // namespace reactor::detail
