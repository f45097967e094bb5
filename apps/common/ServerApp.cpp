#include "apps/common/ServerApp.hpp"

#include <iostream>

#include "apps/common/TlsOptions.hpp"
#include "reactor/Log.hpp"
#include "reactor/Server.hpp"
#include "tls/Signer.hpp"
#include "tls/TlsTransport.hpp"

namespace apps {

std::vector<Args::Option> server_options(const std::string& default_listen,
                                         std::vector<Args::Option> own, TlsMode mode) {
  std::vector<Args::Option> options{
      {"listen", "HOST:PORT", "address to listen on", default_listen},
      {"threads", "N", "event loops (threads), sharing the port via SO_REUSEPORT", "1"},
      {"idle-timeout", "SECONDS", "close connections idle this long; 0 = never", "60"},
      {"drain-timeout", "SECONDS", "on SIGTERM/SIGINT, wait this long for connections to finish",
       "10"},
  };
  for (auto& o : own) options.push_back(std::move(o));
  for (auto& o : tls_server_options(mode)) options.push_back(std::move(o));
  return options;
}

int serve(const Args& args, const std::string& program, reactor::HandlerFactory factory,
          std::vector<std::string> alpn) {
  const auto listen = args.host_port("listen");
  const auto threads = args.count("threads", 1, 256);
  const auto idle = args.seconds("idle-timeout");
  const auto drain = args.seconds("drain-timeout");
  if (!listen || !threads || !idle || !drain) return 2;
  const auto fail = [&](const std::string& message) {
    std::cerr << program << ": " << message << "\n";
    return 1;
  };

  reactor::Error error;
  reactor::ServerOptions options;
  options.listen = reactor::Address::resolve_for_listen(*listen, error);
  if (error) return fail(error.message());
  options.threads = *threads;
  options.listener.connection.idle_timeout = *idle;
  options.drain_timeout = *drain;
  const bool use_tls = serves_tls(args);
  if (use_tls) {
    std::string message;
    auto context = server_context_from(args, std::move(alpn), message);
    if (!context) return fail(message);
    // SIGHUP re-reads the ticket key files: a fleet rotates keys without restarts, and
    // tickets under any key still listed keep resuming.
    if (const auto files = ticket_key_files(args); !files.empty()) {
      options.on_reload = [context, files] {
        std::error_code code;
        std::string why;
        if (context->rotate_ticket_keys(files, code, why))
          reactor::log::info(
              "session ticket keys reloaded from " + files.front() +
              (files.size() > 1 ? " and " + std::to_string(files.size() - 1) + " more" : ""));
        else
          reactor::log::error("session ticket keys not reloaded, the old ones stay: " + why);
      };
    }
    factory = tls::server_factory(std::move(context), std::move(factory));
    const auto jobs = args.count("async-jobs", 0, 1'000'000);
    if (!jobs) return 2;
    if (*jobs > 0) {
      options.on_loop_start = [n = *jobs] {
        if (!tls::limit_async_jobs(n)) reactor::log::error("could not bound the async job pool");
      };
    }
  }
  reactor::Server server(options, std::move(factory));
  if (reactor::Error e = server.listen()) return fail(e.message());
  std::cout << program << ": listening on " << server.local_address().to_string() << " ("
            << *threads << (*threads == 1 ? " thread" : " threads") << (use_tls ? ", TLS" : "")
            << ")" << std::endl;
  return server.run();
}

}  // namespace apps
