// Listening sockets handed over by a service manager (systemd's socket activation, the
// LISTEN_FDS protocol of sd_listen_fds(3)), so that a restart loses no connection attempt: the
// manager keeps the socket open and its backlog holds clients while the server starts.
#pragma once

#include <optional>
#include <string>

#include "reactor/Address.hpp"

namespace apps {

struct PassedSocket {
  int fd = -1;
  std::string name;          // from LISTEN_FDNAMES ("" when not given)
  reactor::Address address;  // where it listens
};

// When LISTEN_PID is this process, takes the LISTEN_FDS sockets (fds 3, 4, ...) and returns the
// one to serve: the one listening on `wanted` (the --listen address), else the first. The others
// are closed. Every fd is made close-on-exec, and LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are
// unset either way, so no child process takes them for its own. nullopt when nothing was passed
// to this process; nullopt with `error` set when the one chosen is not a listening TCP socket.
// Call once, before any other thread starts and before anything else opens descriptors.
std::optional<PassedSocket> take_passed_socket(const reactor::Address& wanted, std::string& error);

}  // namespace apps
