// tlsreactor-hello: a small HTTP responder for tests and benchmarks, on N loops: HTTP/1.1 and
// HTTP/2 over TCP or (--tls) TLS, hello's routes written once (HelloExchange).
#include <filesystem>
#include <memory>
#include <string>

#include "apps/common/Http2Options.hpp"
#include "apps/common/ServerApp.hpp"
#include "apps/common/TlsOptions.hpp"
#include "apps/hello/HelloExchange.hpp"
#include "apps/http/Http1Connection.hpp"
#include "apps/http/Http2Connection.hpp"
#include "apps/http/VersionSelect.hpp"

int main(int argc, char** argv) {
  std::vector<apps::Args::Option> own{
      {"root", "DIR", "serve the files under DIR as /files/PATH", ""},
      {"max-message-bytes", "N", "GET /ws: refuse WebSocket messages over N bytes (close 1009)",
       "1048576"},
      {"header-timeout", "SECONDS",
       "408 and close when a request head is not whole this long after its first byte; 0 = never",
       "10"}};
  for (auto& option : apps::http2_options()) own.push_back(std::move(option));
  apps::Args args(
      "tlsreactor-hello",
      "Answers HTTP/1.1 and HTTP/2 over TCP, or (--tls) over TLS with ALPN h2 and http/1.1:\n"
      "GET / (a greeting), GET /bytes/N (N bytes of the pattern i % 251), GET /files/PATH (a\n"
      "file under --root), POST /echo (the request body streamed back as it arrives), GET\n"
      "/ws (a WebSocket echo, HTTP/1.1 only). Request bodies elsewhere are read and\n"
      "discarded. Over plain TCP a client may start HTTP/2 with prior knowledge (h2c); --http2\n"
      "off speaks HTTP/1.1 only. SIGINT/SIGTERM finish the responses in flight, close idle\n"
      "connections, then exit 0. See docs/hello.md.",
      apps::server_options("127.0.0.1:8443", std::move(own)));
  if (!args.parse(argc, argv)) return args.exit_code();
  // Run at start, by --check and on SIGHUP: a new --root in the config file reaches new
  // connections. The handlers only see Connection: over TLS the factory is wrapped.
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
    apps::Http2Settings http2;
    if (!apps::read_http2(options, http2)) return {};
    apps::http::Http1Options http1;
    const auto head_timeout = options.seconds("header-timeout");
    if (!head_timeout) return {};
    http1.head_timeout = *head_timeout;
    const apps::http::ExchangeFactory exchanges = apps::hello::hello_exchanges(hello);
    apps::http::VersionChoice choice;
    choice.http1 = [exchanges, http1]() -> std::unique_ptr<reactor::Handler> {
      return std::make_unique<apps::http::Http1Connection>(exchanges, http1);
    };
    if (http2.enabled) {
      choice.http2 = [exchanges, limits = http2.limits]() -> std::unique_ptr<reactor::Handler> {
        return std::make_unique<apps::http::Http2Connection>(exchanges, limits);
      };
    }
    choice.prior_knowledge = http2.enabled && !apps::serves_tls(options);
    return apps::http::select_http_version(std::move(choice));
  };
  return apps::serve(args, "tlsreactor-hello", build, apps::http_alpn(args));
}
