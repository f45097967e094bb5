#include "apps/common/SocketActivation.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>
#include <vector>

namespace apps {
namespace {

constexpr int first_passed_fd = 3;  // SD_LISTEN_FDS_START

// A decimal count from the environment; nullopt when unset or not a number.
std::optional<long> number_from(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 0) return std::nullopt;
  return value;
}

// LISTEN_FDNAMES: one name per fd, separated by colons.
std::vector<std::string> names_from(const char* text) {
  std::vector<std::string> names;
  for (std::string_view rest = text != nullptr ? text : ""; !rest.empty();) {
    const auto colon = rest.find(':');
    names.emplace_back(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
  }
  return names;
}

std::optional<reactor::Address> listening_address(int fd) {
  int type = 0;
  int accepting = 0;
  socklen_t length = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM)
    return std::nullopt;
  length = sizeof accepting;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) != 0 || accepting == 0)
    return std::nullopt;
  sockaddr_storage ss{};
  length = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &length) != 0) return std::nullopt;
  if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) return std::nullopt;
  return reactor::Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
}

}  // namespace

std::optional<PassedSocket> take_passed_socket(const reactor::Address& wanted, std::string& error) {
  const auto pid = number_from("LISTEN_PID");
  const auto count = number_from("LISTEN_FDS");
  const std::vector<std::string> names = names_from(std::getenv("LISTEN_FDNAMES"));
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!pid || !count || *pid != static_cast<long>(::getpid()) || *count == 0) return std::nullopt;

  std::vector<PassedSocket> passed;
  for (long i = 0; i < *count; ++i) {
    const int fd = first_passed_fd + static_cast<int>(i);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    PassedSocket socket{fd, static_cast<std::size_t>(i) < names.size() ? names[i] : "", {}};
    if (const auto address = listening_address(fd)) socket.address = *address;
    passed.push_back(std::move(socket));
  }
  std::size_t chosen = 0;
  for (std::size_t i = 0; i < passed.size(); ++i) {
    if (passed[i].address.valid() && passed[i].address.to_string() == wanted.to_string()) {
      chosen = i;
      break;
    }
  }
  for (std::size_t i = 0; i < passed.size(); ++i)
    if (i != chosen) ::close(passed[i].fd);
  if (!passed[chosen].address.valid()) {
    error =
        "LISTEN_FDS: fd " + std::to_string(passed[chosen].fd) + " is not a listening TCP socket";
    ::close(passed[chosen].fd);
    return std::nullopt;
  }
  return passed[chosen];
}

}  // namespace apps
