#include "apps/proxy/Admin.hpp"

#include <array>
#include <chrono>
#include <utility>

#include "apps/http/HttpParser.hpp"
#include "apps/http/Status.hpp"
#include "apps/proxy/Cidr.hpp"

namespace apps::proxy {
namespace {

struct Reply {
  int status = 200;
  std::string body;
  std::string_view content_type = "text/plain; charset=utf-8";
};

Reply healthz(const AdminSources&) {
  return {200, "ok\n"};
}

Reply readyz(const AdminSources& sources) {
  if (sources.draining && sources.draining()) return {503, "draining\n"};
  return {200, "ready\n"};
}

Reply metrics(const AdminSources& sources) {
  const std::int64_t now = sources.now_unix
                               ? sources.now_unix()
                               : std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
  const auto certs =
      sources.certificates ? sources.certificates() : std::vector<CertificateExpiry>{};
  return {200, render_prometheus(*sources.metrics, certs, now),
          "text/plain; version=0.0.4; charset=utf-8"};
}

struct Route {
  std::string_view path;
  Reply (*reply)(const AdminSources&);
};
constexpr std::array<Route, 3> routes{{
    {"/healthz", healthz},
    {"/readyz", readyz},
    {"/metrics", metrics},
}};

std::string render(const Reply& reply, bool close, bool allow_get) {
  std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " ";
  out.append(http::reason_phrase(reply.status)).append("\r\nContent-Type: ");
  out.append(reply.content_type).append("\r\nContent-Length: ");
  out.append(std::to_string(reply.body.size())).append("\r\nCache-Control: no-store\r\n");
  if (allow_get) out.append("Allow: GET\r\n");
  if (close) out.append("Connection: close\r\n");
  out.append("\r\n").append(reply.body);
  return out;
}

// Small limits: the endpoint's requests are one line and a few headers.
constexpr http::HttpParser::Limits admin_limits{8 * 1024, 64};

class AdminHandler final : public reactor::Handler, private http::HttpEvents {
 public:
  explicit AdminHandler(std::shared_ptr<const AdminSources> sources)
      : sources_(std::move(sources)),
        parser_(http::HttpParser::Type::request, *this, admin_limits) {}

  void on_open(reactor::Connection& conn) override { conn_ = &conn; }

  void on_data(reactor::Connection&, std::span<const std::byte> data) override {
    process(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  }

  void on_drain(reactor::Connection& conn) override {
    above_high_ = false;
    if (closing_ || !paused_) return;
    // Pipelined requests waited for the client to read our earlier answers.
    paused_ = false;
    const std::string pending = std::exchange(held_, {});
    parser_.resume();
    conn.resume_reading();
    process(pending);
  }

  void on_close(reactor::Connection&, const reactor::Error&) override { conn_ = nullptr; }

 private:
  // http::HttpEvents
  void on_message_begin() override {
    method_.clear();
    target_.clear();
  }
  void on_start_line(const http::StartLine& line) override {
    method_ = line.method;
    target_ = line.target;
  }
  void on_headers_complete(const http::Framing& framing) override {
    keep_alive_ = framing.keep_alive;
  }
  void on_message_complete() override {
    if (closing_ || conn_ == nullptr) return;
    const std::string_view path = std::string_view(target_).substr(0, target_.find('?'));
    const Route* route = nullptr;
    for (const Route& r : routes)
      if (r.path == path) route = &r;
    Reply reply;
    if (route == nullptr)
      reply = {404, "no such admin path: try /healthz, /readyz or /metrics\n"};
    else if (method_ != "GET")
      reply = {405, "the admin endpoint answers GET only\n"};
    else
      reply = route->reply(*sources_);
    send(render(reply, !keep_alive_, reply.status == 405), !keep_alive_);
    // A client that pipelines without reading waits for our queue to drain.
    if (!closing_ && above_high_) parser_.pause();
  }

  void process(std::string_view input) {
    while (!input.empty() && !closing_ && conn_ != nullptr) {
      const auto result = parser_.feed(input);
      input.remove_prefix(result.consumed);
      switch (result.status) {
        case http::HttpParser::Status::ok:
          return;
        case http::HttpParser::Status::paused:
          held_.assign(input);
          paused_ = true;
          conn_->pause_reading();
          return;
        case http::HttpParser::Status::failed: {
          const http::HttpError& e = parser_.error();
          send(render({e.status, e.reason + "\n"}, true, false), true);
          return;
        }
        case http::HttpParser::Status::upgraded:  // CONNECT or Upgrade, already answered 405/404
          closing_ = true;
          conn_->close();
          return;
      }
    }
  }

  void send(const std::string& response, bool close) {
    above_high_ = !conn_->write(response);
    if (close) {
      closing_ = true;
      conn_->close();
    }
  }

  std::shared_ptr<const AdminSources> sources_;
  http::HttpParser parser_;
  reactor::Connection* conn_ = nullptr;
  std::string method_, target_;
  std::string held_;  // unparsed pipelined bytes while paused
  bool keep_alive_ = true;
  bool above_high_ = false;
  bool paused_ = false;  // the parser stopped until on_drain
  bool closing_ = false;
};

}  // namespace

reactor::HandlerFactory admin_factory(std::shared_ptr<const AdminSources> sources) {
  return [sources = std::move(sources)]() -> std::unique_ptr<reactor::Handler> {
    return std::make_unique<AdminHandler>(sources);
  };
}

reactor::ExtraListener admin_listener(const reactor::Address& address,
                                      std::shared_ptr<const AdminSources> sources,
                                      std::chrono::milliseconds idle_timeout) {
  reactor::ExtraListener listener;
  listener.address = address;
  listener.factory = admin_factory(std::move(sources));
  listener.options.connection.idle_timeout = idle_timeout;
  return listener;
}

std::optional<reactor::Address> listen_address(std::string_view option, std::string_view host_port,
                                               std::string_view example, std::string& error) {
  const std::string shown = "--" + std::string(option) + " " + std::string(host_port);
  const auto parsed = reactor::HostPort::parse(host_port);
  if (!parsed) {
    error = shown + ": expected HOST:PORT, e.g. " + std::string(example);
    return std::nullopt;
  }
  reactor::Error resolve_error;
  const reactor::Address address = reactor::Address::resolve_for_listen(*parsed, resolve_error);
  if (resolve_error || !address.valid()) {
    error = shown + ": " + (resolve_error ? resolve_error.message() : "cannot resolve");
    return std::nullopt;
  }
  return address;
}

std::optional<reactor::Address> admin_address(std::string_view host_port, std::string& error) {
  const auto address = listen_address("admin", host_port, "127.0.0.1:9901", error);
  if (!address) return std::nullopt;
  if (!is_loopback(*address)) {
    error = "--admin " + std::string(host_port) +
            ": not a loopback address: the admin endpoint has no authentication, so it binds "
            "to 127.0.0.0/8 or ::1 only";
    return std::nullopt;
  }
  return address;
}

}  // namespace apps::proxy
