// tlsreactor-proxy: an HTTPS forward proxy for CONNECT tunnels (the reverse proxy is next).
#include "apps/common/ServerApp.hpp"
#include "apps/proxy/ConnectProxy.hpp"

int main(int argc, char** argv) {
  apps::Args args(
      "tlsreactor-proxy",
      "Relays CONNECT tunnels (curl --proxy https://HOST:PORT ...) to the destinations\n"
      "given with --allow-connect, over TCP or (--tls) TLS. Other requests get 501: the\n"
      "reverse proxy is not in this build yet.",
      apps::server_options("127.0.0.1:8080",
                           {
                               {"allow-connect", "HOST:PORT[,...]",
                                "destinations CONNECT may reach (default: none)", ""},
                               {"connect-timeout", "SECONDS",
                                "give up connecting to a destination after this long", "10"},
                           }));
  if (!args.parse(argc, argv)) return args.exit_code();
  auto options = std::make_shared<apps::proxy::ProxyOptions>();
  options->allow_connect = args.list("allow-connect");
  const auto timeout = args.seconds("connect-timeout");
  if (!timeout) return 2;
  options->connect_timeout = *timeout;
  return apps::serve(args, "tlsreactor-proxy",
                     apps::proxy::connect_proxy_factory(std::move(options)));
}
