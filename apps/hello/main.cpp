// tlsreactor-hello: a small HTTP/1.1 responder for tests and benchmarks, on N loops.
#include <filesystem>
#include <iostream>
#include <utility>

#include "apps/common/Args.hpp"
#include "apps/hello/HelloHandler.hpp"
#include "reactor/Server.hpp"

int main(int argc, char** argv) {
  apps::Args args(
      "tlsreactor-hello",
      "Answers HTTP/1.1: GET / (a greeting), GET /bytes/N (N bytes of the pattern\n"
      "i % 251), GET /files/PATH (a file under --root). SIGINT/SIGTERM finish the\n"
      "responses in flight, close idle connections, then exit 0.",
      {
          {"listen", "HOST:PORT", "address to listen on", "127.0.0.1:8443"},
          {"threads", "N", "event loops (threads), sharing the port via SO_REUSEPORT", "1"},
          {"idle-timeout", "SECONDS", "close keep-alive connections idle this long; 0 = never",
           "60"},
          {"drain-timeout", "SECONDS", "on SIGTERM, wait this long for responses in flight", "10"},
          {"root", "DIR", "serve the files under DIR as /files/PATH", ""},
      });
  if (!args.parse(argc, argv)) return args.exit_code();
  const auto listen = args.host_port("listen");
  const auto threads = args.count("threads", 1, 256);
  const auto idle = args.seconds("idle-timeout");
  const auto drain = args.seconds("drain-timeout");
  if (!listen || !threads || !idle || !drain) return 2;

  apps::hello::HelloOptions hello;
  if (const auto root = args.get("root"); !root.empty()) {
    std::error_code ec;
    hello.root = std::filesystem::canonical(root, ec);
    if (ec || !std::filesystem::is_directory(hello.root)) {
      std::cerr << "tlsreactor-hello: --root: not a directory: " << root << "\n";
      return 2;
    }
  }

  reactor::Error error;
  reactor::ServerOptions options;
  options.listen = reactor::Address::resolve_for_listen(*listen, error);
  if (error) {
    std::cerr << "tlsreactor-hello: " << error.message() << "\n";
    return 1;
  }
  options.threads = *threads;
  options.listener.connection.idle_timeout = *idle;
  options.drain_timeout = *drain;
  // The handler only sees Connection: a TLS build wraps this factory and changes nothing else.
  reactor::HandlerFactory factory = apps::hello::hello_factory(hello);
  reactor::Server server(options, std::move(factory));
  if (reactor::Error e = server.listen()) {
    std::cerr << "tlsreactor-hello: " << e.message() << "\n";
    return 1;
  }
  std::cout << "tlsreactor-hello: listening on " << server.local_address().to_string() << " ("
            << *threads << (*threads == 1 ? " thread" : " threads") << ")" << std::endl;
  return server.run();
}
