// tlsreactor-echo: a TCP or TLS echo server with backpressure, on N loops.
#include "apps/common/ServerApp.hpp"
#include "apps/echo/EchoHandler.hpp"

int main(int argc, char** argv) {
  apps::Args args(
      "tlsreactor-echo",
      "Echoes every byte it receives back to the sender, over TCP or (--tls) TLS. Stops\n"
      "reading from a client that does not read its echo. SIGINT/SIGTERM drain\n"
      "connections, then exit 0.",
      apps::server_options("127.0.0.1:7000", {}));
  if (!args.parse(argc, argv)) return args.exit_code();
  return apps::serve(args, "tlsreactor-echo", apps::echo::echo_factory());
}
