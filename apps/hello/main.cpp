// tlsreactor-hello: a small HTTP/1.1 (or, with --tls, HTTPS) responder for tests and
// benchmarks, on N loops.
#include <filesystem>
#include <string>

#include "apps/common/ServerApp.hpp"
#include "apps/hello/HelloHandler.hpp"

int main(int argc, char** argv) {
  apps::Args args(
      "tlsreactor-hello",
      "Answers HTTP/1.1 over TCP or (--tls) TLS with ALPN http/1.1: GET / (a greeting),\n"
      "GET /bytes/N (N bytes of the pattern i % 251), GET /files/PATH (a file under\n"
      "--root), POST /echo (the request body streamed back as it arrives). Request bodies\n"
      "(Content-Length or chunked) elsewhere are read and discarded. SIGINT/SIGTERM finish\n"
      "the responses in flight, close idle connections, then exit 0. See docs/hello.md.",
      apps::server_options(
          "127.0.0.1:8443",
          {{"root", "DIR", "serve the files under DIR as /files/PATH", ""},
           {"max-message-bytes", "N",
            "GET /ws: refuse WebSocket messages over N bytes (close 1009)", "1048576"}}));
  if (!args.parse(argc, argv)) return args.exit_code();
  // Run at start, by --check and on SIGHUP: a new --root in the config file reaches new
  // connections. The handler only sees Connection: over TLS the factory is wrapped.
  auto build = [](const apps::Args& options, std::string&) -> reactor::HandlerFactory {
    apps::hello::HelloOptions hello;
    const auto max_message = options.count("max-message-bytes", 1, 1u << 30);
    if (!max_message) return {};
    hello.websocket.max_message_bytes = *max_message;
    if (const auto root = options.get("root"); !root.empty()) {
      std::error_code ec;
      hello.root = std::filesystem::canonical(root, ec);
      if (ec || !std::filesystem::is_directory(hello.root)) {
        options.complain("root", "not a directory: " + root);
        return {};
      }
    }
    return apps::hello::hello_factory(hello);
  };
  return apps::serve(args, "tlsreactor-hello", build, {"http/1.1"});
}
