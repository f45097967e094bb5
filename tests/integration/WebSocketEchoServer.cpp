// ws-echo-server: hello's WebSocket echo (apps/hello/WebSocketEcho) behind the smallest HTTP
// front that can reach it: GET /ws with an upgrade is answered by accept_websocket(), anything
// else 404, on the same server options as tlsreactor-hello (--tls, --dev-cert-dir, ...) plus
// --max-message-bytes. It stands in for hello's /ws route in WebSocketTests.cpp until that
// route is wired into HelloHandler; the echo and the handshake code are the ones hello uses.
#include <memory>
#include <string>

#include "apps/common/ServerApp.hpp"
#include "apps/hello/WebSocketEcho.hpp"
#include "apps/http/HttpParser.hpp"
#include "apps/http/WebSocketHandshake.hpp"

namespace {

using apps::http::HttpParser;

class UpgradeFront final : public reactor::Handler, private apps::http::HttpEvents {
 public:
  explicit UpgradeFront(apps::hello::WebSocketEchoOptions options) : options_(options) {}

  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override {
    if (echo_) return echo_->on_data(conn, data);
    const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
    const auto result = parser_.feed(text);
    if (result.status == HttpParser::Status::failed) return refuse(conn, 400);
    if (!complete_) return;
    if (target_ != "/ws" || !handshake_.wants_websocket()) return refuse(conn, 404);
    echo_ = apps::hello::accept_websocket(conn, handshake_, options_);
    if (!echo_) return;
    echo_->on_open(conn);
    if (const auto rest = data.subspan(result.consumed); !rest.empty()) echo_->on_data(conn, rest);
  }
  void on_drain(reactor::Connection& conn) override {
    if (echo_) echo_->on_drain(conn);
  }
  void on_peer_closed(reactor::Connection& conn) override {
    if (echo_) return echo_->on_peer_closed(conn);
    conn.close();
  }
  void on_server_stopping(reactor::Connection& conn) override {
    if (echo_) return echo_->on_server_stopping(conn);
    conn.close();
  }

 private:
  void on_start_line(const apps::http::StartLine& line) override {
    target_ = line.target;
    handshake_.on_request_line(line.method, line.http_major, line.http_minor);
  }
  void on_header(std::string_view name, std::string_view value) override {
    handshake_.on_header(name, value);
  }
  void on_headers_complete(const apps::http::Framing&) override { complete_ = true; }

  static void refuse(reactor::Connection& conn, int status) {
    conn.write(status == 404 ? "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n"
                             : "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n");
    conn.close();
  }

  apps::hello::WebSocketEchoOptions options_;
  HttpParser parser_{HttpParser::Type::request, *this};
  apps::http::WebSocketHandshake handshake_;
  std::string target_;
  bool complete_ = false;
  std::unique_ptr<apps::hello::WebSocketEcho> echo_;
};

}  // namespace

int main(int argc, char** argv) {
  apps::Args args("ws-echo-server", "hello's WebSocket echo at /ws, for the integration tests.",
                  apps::server_options(
                      "127.0.0.1:0",
                      {{"max-message-bytes", "N", "refuse longer messages with 1009", "1048576"}}));
  if (!args.parse(argc, argv)) return args.exit_code();
  auto build = [](const apps::Args& options, std::string&) -> reactor::HandlerFactory {
    const auto max = options.count("max-message-bytes", 1, 1u << 30);
    if (!max) return {};
    const apps::hello::WebSocketEchoOptions echo{.max_message_bytes = *max};
    return [echo] { return std::make_unique<UpgradeFront>(echo); };
  };
  return apps::serve(args, "ws-echo-server", build, {"http/1.1"});
}
