// The service manager's readiness protocol (systemd's sd_notify(3), Type=notify) without
// libsystemd: each state change is one datagram of "KEY=value" lines to the AF_UNIX socket
// named by $NOTIFY_SOCKET.
#pragma once

#include <string>
#include <string_view>

namespace apps {

// Thread-safety: every member is const and each send is one sendto() on its own socket, so any
// thread may send at any time (a SIGHUP on loop 0, a stop() from elsewhere).
class SystemdNotify {
 public:
  // Reads $NOTIFY_SOCKET: a path, or "@name" for Linux's abstract namespace. Unset or empty:
  // every send does nothing (not started by a service manager).
  static SystemdNotify from_environment();

  bool enabled() const noexcept { return !socket_.empty(); }

  // Once listening: READY=1 and MAINPID, with `status` as STATUS=.
  void ready(std::string_view status) const;
  // A reload begins (SIGHUP): RELOADING=1 with MONOTONIC_USEC, as systemd 253+ wants it.
  void reloading() const;
  // A drain begins: STOPPING=1.
  void stopping() const;

  // One datagram as is ("READY=1\nSTATUS=..."). A failure is logged once per call, never fatal:
  // the service manager going away must not stop the server.
  void send(std::string_view message) const;

 private:
  std::string socket_;
};

}  // namespace apps
