#include "apps/common/ServerApp.hpp"

#include <cstdint>
#include <iostream>

#include "apps/common/Reloader.hpp"
#include "apps/common/SocketActivation.hpp"
#include "apps/common/SystemdNotify.hpp"
#include "apps/common/TlsOptions.hpp"
#include "reactor/Log.hpp"
#include "reactor/Server.hpp"
#include "tls/Signer.hpp"

namespace apps {

std::vector<Args::Option> server_options(const std::string& default_listen,
                                         std::vector<Args::Option> own, TlsDefault tls) {
  std::vector<Args::Option> options{
      // {name, value, help, default, repeatable, restart_only}
      {"listen", "HOST:PORT", "address to listen on", default_listen, false, true},
      {"threads", "N", "event loops (threads), sharing the port via SO_REUSEPORT", "1", false,
       true},
      {"idle-timeout", "SECONDS", "close connections idle this long; 0 = never", "60", false, true},
      {"drain-timeout", "SECONDS", "on SIGTERM/SIGINT, wait this long for connections to finish",
       "10", false, true},
      {"max-connections", "N",
       "per thread: at most N connections open at once; more wait in the listen backlog\n"
       "until one closes; 0 = no limit",
       "10000", false, true},
      {"max-buffered", "BYTES",
       "abort a connection whose handler queues more unsent bytes than this (it ignored\n"
       "backpressure); 0 = no limit",
       "16777216", false, true},
      {"config", "FILE",
       "read options from a TOML file (keys are the long option names); the command line\n"
       "overrides it, SIGHUP re-reads it",
       ""},
      {"check", "",
       "validate the options and load the certificates and keys, then exit 0 (OK) or 1", ""},
  };
  for (auto& o : own) options.push_back(std::move(o));
  for (auto& o : tls_server_options(tls)) options.push_back(std::move(o));
  return options;
}

int serve(const Args& parsed, const std::string& program, FactoryBuilder build,
          std::vector<std::string> alpn, ServeExtras extras) {
  // Complaints are collected and printed here, once, in one shape.
  Args args = parsed;
  args.set_quiet(true);
  const bool checking = args.flag("check");
  const auto fail = [&](const std::string& message, int status) {
    std::cerr << program << ": " << message << "\n";
    return checking ? 1 : status;
  };
  const auto listen = args.host_port("listen");
  const auto threads = args.count("threads", 1, 256);
  const auto idle = args.seconds("idle-timeout");
  const auto drain = args.seconds("drain-timeout");
  const bool use_tls = serves_tls(args);
  const auto jobs = use_tls ? args.count("async-jobs", 0, 1'000'000) : std::optional<unsigned>(0);
  const auto max_connections = args.count("max-connections", 0, 10'000'000);
  const auto max_buffered = args.count("max-buffered", 0, UINT32_MAX);
  if (!listen || !threads || !idle || !drain || !jobs || !max_connections || !max_buffered)
    return fail(args.last_error(), 2);

  reactor::Error error;
  reactor::ServerOptions options;
  options.listen = reactor::Address::resolve_for_listen(*listen, error);
  if (error) return fail(error.message(), 1);
  options.threads = *threads;
  options.listener.connection.idle_timeout = *idle;
  options.listener.connection.max_buffered = *max_buffered;
  options.listener.max_connections = *max_connections;
  options.drain_timeout = *drain;
  if (*jobs > 0) {
    options.on_loop_start = [n = *jobs] {
      if (const reactor::Error e = tls::limit_async_jobs(n)) reactor::log::error(e.message());
    };
  }

  options.extra_listeners = std::move(extras.extra_listeners);
  auto reloader = std::make_shared<Reloader>(args, std::move(build), std::move(alpn),
                                             std::move(extras.outer), std::move(extras.on_built));
  std::string message;
  auto built = reloader->build(args, message);
  if (!built) return fail(message, 1);
  if (checking) {
    std::cout << program << ": configuration OK" << std::endl;
    return 0;
  }
  reloader->taken(args);
  std::string passing_error;
  if (const auto passed = take_passed_socket(options.listen, passing_error)) {
    options.listen_fd = passed->fd;
    reactor::log::info("serving the socket passed by the service manager, fd " +
                       std::to_string(passed->fd) + " on " + passed->address.to_string() +
                       (passed->name.empty() ? "" : " (" + passed->name + ")"));
  } else if (!passing_error.empty()) {
    return fail(passing_error, 1);
  }
  const SystemdNotify notify = SystemdNotify::from_environment();
  // The server outlives every SIGHUP (signals stop with its loops), so the pointer stays good.
  reactor::Server* running = nullptr;
  options.on_reload = [reloader, &running, notify] {
    notify.reloading();
    notify.ready(reloader->reload(*running) ? "serving the reloaded configuration"
                                            : "reload failed, serving the old configuration");
  };
  options.on_reopen = extras.on_reopen ? std::move(extras.on_reopen) : [] {
    reactor::log::info("SIGUSR1: no log file to reopen");
  };
  options.on_stopping = [notify] { notify.stopping(); };
  reactor::Server server(options, std::move(built->factory));
  running = &server;
  if (reactor::Error e = server.listen()) return fail(e.message(), 1);
  const std::string listening =
      "listening on " + server.local_address().to_string() + " (" + std::to_string(*threads) +
      (*threads == 1 ? " thread" : " threads") + (use_tls ? ", TLS" : "") + ")";
  std::cout << program << ": " << listening << std::endl;
  if (extras.on_listening) extras.on_listening(server);
  notify.ready(listening);
  return server.run();
}

int serve(const Args& args, const std::string& program, reactor::HandlerFactory factory,
          std::vector<std::string> alpn) {
  FactoryBuilder same = [factory = std::move(factory)](const Args&, std::string&) {
    return factory;
  };
  return serve(args, program, std::move(same), std::move(alpn));
}

}  // namespace apps
