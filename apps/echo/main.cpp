// tlsreactor-echo: a TCP or TLS echo server with backpressure, on N loops.
#include <iostream>

#include "apps/common/Args.hpp"
#include "apps/common/TlsOptions.hpp"
#include "apps/echo/EchoHandler.hpp"
#include "reactor/Log.hpp"
#include "reactor/Server.hpp"
#include "tls/TlsTransport.hpp"

int main(int argc, char** argv) {
  std::vector<apps::Args::Option> option_list{
      {"listen", "HOST:PORT", "address to listen on", "127.0.0.1:7000"},
      {"threads", "N", "event loops (threads), sharing the port via SO_REUSEPORT", "1"},
      {"idle-timeout", "SECONDS", "close connections idle this long; 0 = never", "60"},
      {"drain-timeout", "SECONDS", "on SIGTERM, wait this long for connections", "10"},
  };
  for (auto& o : apps::tls_server_options()) option_list.push_back(std::move(o));
  apps::Args args("tlsreactor-echo",
                  "Echoes every byte it receives back to the sender, over TCP or (--tls) TLS. Stops\n"
                  "reading from a client that does not read its echo. SIGINT/SIGTERM drain\n"
                  "connections, then exit 0.",
                  std::move(option_list));
  if (!args.parse(argc, argv)) return args.exit_code();
  const auto listen = args.host_port("listen");
  const auto threads = args.count("threads", 1, 256);
  const auto idle = args.seconds("idle-timeout");
  const auto drain = args.seconds("drain-timeout");
  if (!listen || !threads || !idle || !drain) return 2;

  reactor::Error error;
  const reactor::Address address = reactor::Address::resolve_for_listen(*listen, error);
  if (error) {
    std::cerr << "tlsreactor-echo: " << error.message() << "\n";
    return 1;
  }
  reactor::ServerOptions options;
  options.listen = address;
  options.threads = *threads;
  options.listener.connection.idle_timeout = *idle;
  options.drain_timeout = *drain;
  reactor::HandlerFactory factory = apps::echo::echo_factory();
  if (args.flag("tls")) {
    std::string message;
    auto context = apps::server_context_from(args, {}, message);
    if (!context) {
      std::cerr << "tlsreactor-echo: " << message << "\n";
      return 1;
    }
    factory = tls::server_factory(std::move(context), std::move(factory));
  }
  reactor::Server server(options, std::move(factory));
  if (reactor::Error e = server.listen()) {
    std::cerr << "tlsreactor-echo: " << e.message() << "\n";
    return 1;
  }
  std::cout << "tlsreactor-echo: listening on " << server.local_address().to_string() << " ("
            << *threads << (*threads == 1 ? " thread" : " threads") << (args.flag("tls") ? ", TLS" : "")
            << ")" << std::endl;
  return server.run();
}
