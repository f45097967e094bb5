// tlsreactor-proxy: terminates TLS and forwards HTTP/1.1 to upstreams (reverse proxy), and
// relays CONNECT tunnels to allowed destinations (forward proxy).
#include <iostream>

#include "apps/common/ServerApp.hpp"
#include "apps/proxy/AccessLog.hpp"
#include "apps/proxy/Metrics.hpp"
#include "apps/proxy/ProxyOptions.hpp"
#include "apps/proxy/ReverseProxy.hpp"

int main(int argc, char** argv) {
  apps::Args args(
      "tlsreactor-proxy",
      "Terminates TLS (a development certificate without --cert; --plain for cleartext) and\n"
      "forwards HTTP/1.1 requests to the --upstream servers, round robin, with keep-alive on\n"
      "both sides. CONNECT HOST:PORT is relayed to the destinations given with\n"
      "--allow-connect. SIGTERM finishes the requests in flight, then exits 0.",
      apps::server_options("127.0.0.1:8443", apps::proxy::proxy_option_list(),
                           apps::TlsMode::by_default));
  if (!args.parse(argc, argv)) return args.exit_code();
  std::string error;
  const auto options = apps::proxy::proxy_options_from(args, error);
  if (!options) {
    if (!error.empty()) std::cerr << "tlsreactor-proxy: " << error << "\n";
    return 2;
  }
  std::unique_ptr<apps::proxy::AccessLog> access_log;
  if (options->access_log != "off") {
    access_log =
        apps::proxy::AccessLog::open(options->access_log, options->access_log_format, error);
    if (!access_log) {
      std::cerr << "tlsreactor-proxy: " << error << "\n";
      return 1;
    }
  }
  apps::proxy::Metrics metrics;
  return apps::serve(args, "tlsreactor-proxy",
                     apps::proxy::reverse_proxy_factory(options, metrics, access_log.get()),
                     {"http/1.1"});
}
