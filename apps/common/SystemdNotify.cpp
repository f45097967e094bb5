#include "apps/common/SystemdNotify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "reactor/Log.hpp"

namespace apps {

SystemdNotify SystemdNotify::from_environment() {
  SystemdNotify notify;
  if (const char* socket = std::getenv("NOTIFY_SOCKET")) notify.socket_ = socket;
  return notify;
}

void SystemdNotify::ready(std::string_view status) const {
  if (!enabled()) return;
  send("READY=1\nMAINPID=" + std::to_string(::getpid()) + "\nSTATUS=" + std::string(status));
}

void SystemdNotify::reloading() const {
  if (!enabled()) return;
  // systemd matches the reload to this timestamp: CLOCK_MONOTONIC, in microseconds.
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1'000'000ULL +
                    static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading");
}

void SystemdNotify::stopping() const {
  if (!enabled()) return;
  send("STOPPING=1\nSTATUS=draining");
}

void SystemdNotify::send(std::string_view message) const {
  if (!enabled()) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof address.sun_path) {
    reactor::log::error("NOTIFY_SOCKET " + socket_ + ": name too long");
    return;
  }
  std::memcpy(address.sun_path, socket_.data(), socket_.size());
  // "@name": the abstract namespace, whose names start with a NUL and are not NUL-terminated.
  if (socket_.front() == '@') address.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size() +
                                             (socket_.front() == '@' ? 0 : 1));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    reactor::log::error(std::string("NOTIFY_SOCKET: socket: ") + std::strerror(errno));
    return;
  }
  ssize_t sent;
  do {
    sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&address), length);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) reactor::log::error("NOTIFY_SOCKET " + socket_ + ": " + std::strerror(errno));
  ::close(fd);
}

}  // namespace apps
