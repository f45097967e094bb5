// What every sample server shares: --listen, --threads, the timeouts, the TLS options,
// --config and --check, the listening line tests and scripts read, SIGHUP reloads, and running
// until a SIGINT/SIGTERM drain completes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "apps/common/Args.hpp"
#include "apps/common/TlsOptions.hpp"
#include "reactor/Handler.hpp"
#include "reactor/Server.hpp"

namespace apps {

// The shared options (listen defaulting to `default_listen`, --config, --check), then the
// app's own, then the TLS ones (with --tls, or with --plain for an app that serves TLS by
// default). Mark an own option restart_only when a reload cannot apply it.
std::vector<Args::Option> server_options(const std::string& default_listen,
                                         std::vector<Args::Option> own,
                                         TlsDefault tls = TlsDefault::off);

// Builds the app's handler factory from its options: at start, under --check, and on each
// SIGHUP with the options re-read (config file + the same command line), each time from a
// different Args, so the factory must copy what it needs. This is where an app validates its
// own options: it returns an empty factory and either sets `error` ("--upstream: ...") or
// reports through args.complain(), which names the file:line of a value from the config file.
using FactoryBuilder = std::function<reactor::HandlerFactory(const Args& args, std::string& error)>;

// What an app may add around the server serve() runs (the proxy does); every member optional.
struct ServeExtras {
  // Wraps each built factory, TLS included, from the outside: it sees the TCP bytes before TLS
  // does (the PROXY protocol). Runs wherever the builder runs; an empty result fails the build.
  std::function<reactor::HandlerFactory(const Args& args, reactor::HandlerFactory inner,
                                        std::string& error)>
      outer;
  // Listeners on loop 0 that keep answering through a drain (an admin endpoint).
  std::vector<reactor::ExtraListener> extra_listeners;
  // Once listening, before serving (the server's draining() and extra_address()).
  std::function<void(reactor::Server& server)> on_listening;
  // After each build that succeeded and is taken into use, with its options: at start (before
  // the loops run) and on SIGHUP (on loop 0's thread).
  std::function<void(const Args& args)> on_built;
  // On each SIGUSR1, on loop 0's thread: reopen the app's log files (logrotate's postrotate).
  // Without one, SIGUSR1 only logs that there is nothing to reopen.
  std::function<void()> on_reopen;
};

// Listens as the parsed options say (over TLS with --tls, offering `alpn`), prints
// "PROGRAM: listening on ADDR (N thread(s)[, TLS])" on stdout and runs until drained.
// With --check it only validates: builds the factory and the TLS Context (loading every
// certificate, key and ticket key), prints "PROGRAM: configuration OK" and returns 0, or prints
// the first error and returns 1.
// Under a service manager: with LISTEN_FDS/LISTEN_PID for this process it serves on the passed
// socket listening on --listen's address (else the first passed one) instead of binding; with
// NOTIFY_SOCKET it reports READY=1 once listening, RELOADING=1 then READY=1 around each SIGHUP,
// and STOPPING=1 when a drain begins (SocketActivation.hpp, SystemdNotify.hpp).
// SIGHUP re-reads the config file, rebuilds the Context and the factory and swaps them in for
// new connections (open ones keep theirs); on any error the old ones stay and one log line says
// why. Options marked restart_only (--listen, --threads, the timeouts, --tls/--plain,
// --dev-cert-dir, --async-jobs, and the app's own) keep their start value, with a log line.
// Returns the process exit status: 0 after a drain or a good --check, 1 when it could not start
// (or --check found an error), 2 for bad options.
int serve(const Args& args, const std::string& program, FactoryBuilder build,
          std::vector<std::string> alpn = {}, ServeExtras extras = {});
// For apps whose handlers have no options of their own: reloads swap only the TLS Context.
int serve(const Args& args, const std::string& program, reactor::HandlerFactory factory,
          std::vector<std::string> alpn = {});

}  // namespace apps
