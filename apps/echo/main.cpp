// tlsreactor-echo: a TCP echo server with backpressure, on N loops.
#include <iostream>

#include "apps/common/Args.hpp"
#include "apps/echo/EchoHandler.hpp"
#include "reactor/Log.hpp"
#include "reactor/Server.hpp"

int main(int argc, char** argv) {
  apps::Args args("tlsreactor-echo",
                  "Echoes every byte it receives back to the sender. Stops reading from a client\n"
                  "that does not read its echo. SIGINT/SIGTERM drain connections, then exit 0.",
                  {
                      {"listen", "HOST:PORT", "address to listen on", "127.0.0.1:7000"},
                      {"threads", "N", "event loops (threads), sharing the port via SO_REUSEPORT", "1"},
                      {"idle-timeout", "SECONDS", "close connections idle this long; 0 = never", "60"},
                      {"drain-timeout", "SECONDS", "on SIGTERM, wait this long for connections", "10"},
                  });
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
  reactor::Server server(options, apps::echo::echo_factory());
  if (reactor::Error e = server.listen()) {
    std::cerr << "tlsreactor-echo: " << e.message() << "\n";
    return 1;
  }
  std::cout << "tlsreactor-echo: listening on " << server.local_address().to_string() << " ("
            << *threads << (*threads == 1 ? " thread" : " threads") << ")" << std::endl;
  return server.run();
}
