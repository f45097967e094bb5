#include "apps/proxy/ConnectProxy.hpp"

#include <algorithm>
#include <cctype>

#include "apps/proxy/HttpParser.hpp"
#include "reactor/Log.hpp"
#include "reactor/TcpConnector.hpp"

namespace apps::proxy {
namespace {

// The two ends of one tunnel. Each pointer is valid until that side's on_close, which clears it.
struct Tunnel {
  reactor::Connection* client = nullptr;
  reactor::Connection* upstream = nullptr;
  std::string early;  // bytes the client sent after its CONNECT head, before the upstream opened
  bool established = false;
};

std::string response(int status, std::string_view reason, std::string_view why) {
  std::string body(why);
  body += "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// Relays one direction: what `from` receives goes to `to`; when `to` is full, `from` pauses.
void relay(reactor::Connection& from, reactor::Connection* to, std::span<const std::byte> data) {
  if (to != nullptr && !to->write(data)) from.pause_reading();
}

class Upstream final : public reactor::Handler {
 public:
  explicit Upstream(std::shared_ptr<Tunnel> tunnel) : tunnel_(std::move(tunnel)) {}

  void on_open(reactor::Connection& up) override {
    tunnel_->upstream = &up;
    reactor::Connection* client = tunnel_->client;
    if (client == nullptr) return up.close();
    tunnel_->established = true;
    client->write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (!tunnel_->early.empty()) up.write(std::exchange(tunnel_->early, {}));
    client->resume_reading();
  }
  void on_data(reactor::Connection& up, std::span<const std::byte> data) override {
    relay(up, tunnel_->client, data);
  }
  void on_drain(reactor::Connection&) override {
    if (tunnel_->client != nullptr) tunnel_->client->resume_reading();
  }
  // The destination finished: the client gets everything, then our close (close_notify, FIN).
  void on_peer_closed(reactor::Connection& up) override {
    if (tunnel_->client != nullptr)
      tunnel_->client->close();
    else
      up.close();
  }
  void on_close(reactor::Connection&, const reactor::Error& error) override {
    tunnel_->upstream = nullptr;
    reactor::Connection* client = tunnel_->client;
    if (client == nullptr) return;
    if (!tunnel_->established) {
      reactor::log::info("CONNECT failed: " + error.message());
      client->write(response(502, "Bad Gateway", error.message()));
    }
    client->close();
  }

 private:
  std::shared_ptr<Tunnel> tunnel_;
};

class Client final : public reactor::Handler, private HttpEvents {
 public:
  explicit Client(std::shared_ptr<const ProxyOptions> options)
      : options_(std::move(options)), parser_(HttpParser::Type::request, *this) {}

  void on_open(reactor::Connection& conn) override { conn_ = &conn; }

  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override {
    if (tunnel_) {
      if (tunnel_->established) return relay(conn, tunnel_->upstream, data);
      tunnel_->early.append(reinterpret_cast<const char*>(data.data()), data.size());
      return;
    }
    const std::string_view bytes(reinterpret_cast<const char*>(data.data()), data.size());
    const HttpParser::Result result = parser_.feed(bytes);
    if (result.status == HttpParser::Status::failed) {
      const HttpError& e = parser_.error();
      return refuse(e.status, e.status == 431 ? "Request Header Fields Too Large" : "Bad Request",
                    e.reason);
    }
    if (result.status == HttpParser::Status::upgraded && connect_)
      open_tunnel(bytes.substr(result.consumed));
  }

  void on_drain(reactor::Connection&) override {
    if (tunnel_ && tunnel_->upstream != nullptr) tunnel_->upstream->resume_reading();
  }
  // The client finished sending: pass its FIN on, keep relaying the other way.
  void on_peer_closed(reactor::Connection& conn) override {
    if (tunnel_ && tunnel_->upstream != nullptr)
      tunnel_->upstream->shutdown();
    else
      conn.close();
  }
  void on_close(reactor::Connection&, const reactor::Error&) override {
    conn_ = nullptr;
    if (!tunnel_) return;
    tunnel_->client = nullptr;
    if (tunnel_->upstream != nullptr) tunnel_->upstream->close();
  }

 private:
  // HttpEvents: only the start line and framing matter here.
  void on_start_line(const StartLine& line) override {
    connect_ = line.method == "CONNECT";
    target_ = std::string(line.target);
    std::transform(target_.begin(), target_.end(), target_.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  void on_headers_complete(const Framing&) override {
    if (!connect_) refuse(501, "Not Implemented", "this proxy build relays CONNECT tunnels only");
  }

  void open_tunnel(std::string_view early) {
    const auto& allowed = options_->allow_connect;
    const auto target = reactor::HostPort::parse(target_);
    if (!target) return refuse(400, "Bad Request", "CONNECT needs HOST:PORT, got " + target_);
    if (std::find(allowed.begin(), allowed.end(), target_) == allowed.end())
      return refuse(403, "Forbidden", "CONNECT to " + target_ + " is not allowed");
    tunnel_ = std::make_shared<Tunnel>();
    tunnel_->client = conn_;
    tunnel_->early = std::string(early);
    conn_->pause_reading();  // nothing more is buffered until the destination answers
    reactor::ConnectOptions connect_options;
    connect_options.timeout = options_->connect_timeout;
    reactor::TcpConnector(conn_->loop(), connect_options)
        .connect(*target, std::make_unique<Upstream>(tunnel_));
  }

  void refuse(int status, std::string_view reason, const std::string& why) {
    if (conn_ == nullptr || conn_->is_closing()) return;
    reactor::log::info("refused " + conn_->peer_address().to_string() + ": " +
                       std::to_string(status) + " " + why);
    conn_->write(response(status, reason, why));
    conn_->close();
  }

  std::shared_ptr<const ProxyOptions> options_;
  HttpParser parser_;
  reactor::Connection* conn_ = nullptr;
  std::shared_ptr<Tunnel> tunnel_;
  std::string target_;
  bool connect_ = false;
};

}  // namespace

reactor::HandlerFactory connect_proxy_factory(std::shared_ptr<const ProxyOptions> options) {
  return [options = std::move(options)] { return std::make_unique<Client>(options); };
}

}  // namespace apps::proxy
