#include "apps/proxy/ConnectProxy.hpp"

#include <algorithm>
#include <cctype>

#include "apps/proxy/HeaderRewrite.hpp"
#include "reactor/Log.hpp"
#include "reactor/TcpConnector.hpp"

namespace apps::proxy {
namespace {

// The destination's connection: its Handler hands everything to the relay.
class Destination final : public reactor::Handler {
 public:
  Destination(std::shared_ptr<ConnectRelay> relay, Metrics& metrics)
      : relay_(std::move(relay)), metrics_(metrics) {}

  void on_open(reactor::Connection& destination) override {
    opened_ = true;
    relay_->connected(destination);
  }
  void on_data(reactor::Connection&, std::span<const std::byte> data) override {
    relay_->upstream_data(data);
  }
  void on_drain(reactor::Connection&) override { relay_->upstream_drain(); }
  void on_peer_closed(reactor::Connection&) override { relay_->upstream_peer_closed(); }
  void on_close(reactor::Connection&, const reactor::Error& error) override {
    if (opened_) return relay_->upstream_closed();
    reactor::log::info("CONNECT failed: " + error.message());
    metrics_.count(Metrics::UpstreamError::refused);
    relay_->connect_failed(error.message());
  }

 private:
  std::shared_ptr<ConnectRelay> relay_;
  Metrics& metrics_;
  bool opened_ = false;
};

// HTTP/1.1's client side: the Tunnel takes the destination with the 200 as its first bytes.
class TunnelJoin final : public ConnectRelay {
 public:
  explicit TunnelJoin(std::shared_ptr<Tunnel> tunnel) : tunnel_(std::move(tunnel)) {}

  void connected(reactor::Connection& destination) override {
    tunnel_->join(destination, 200, "HTTP/1.1 200 Connection Established\r\n\r\n", {});
  }
  void connect_failed(const std::string& why) override {
    tunnel_->refuse(502, error_response(502, why));
  }
  void upstream_data(std::span<const std::byte> bytes) override { tunnel_->upstream_data(bytes); }
  void upstream_drain() override { tunnel_->upstream_drain(); }
  void upstream_peer_closed() override { tunnel_->upstream_peer_closed(); }
  void upstream_closed() override { tunnel_->upstream_closed(); }

 private:
  std::shared_ptr<Tunnel> tunnel_;
};

}  // namespace

bool connect_allowed(const std::vector<std::string>& allow_list, std::string_view target) {
  return std::find(allow_list.begin(), allow_list.end(), target) != allow_list.end();
}

ConnectCheck check_connect(const std::vector<std::string>& allow_list, std::string_view target) {
  ConnectCheck check;
  check.target.assign(target);
  std::transform(check.target.begin(), check.target.end(), check.target.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (allow_list.empty()) {
    check.refusal = 501;
    check.why = "CONNECT is not enabled on this proxy (no --allow-connect)";
  } else if (check.destination = reactor::HostPort::parse(check.target); !check.destination) {
    check.refusal = 400;
    check.why = "CONNECT needs HOST:PORT, got " + check.target;
  } else if (!connect_allowed(allow_list, check.target)) {
    check.refusal = 403;
    check.why = "CONNECT to " + check.target + " is not allowed";
  }
  if (check.refusal != 0) check.destination.reset();
  return check;
}

void connect_destination(reactor::Loop& loop, const reactor::HostPort& destination,
                         std::chrono::milliseconds timeout, Metrics& metrics,
                         std::shared_ptr<ConnectRelay> relay) {
  reactor::ConnectOptions options;
  options.timeout = timeout;
  reactor::TcpConnector(loop, options)
      .connect(destination, std::make_unique<Destination>(std::move(relay), metrics));
}

void connect_tunnel(std::shared_ptr<Tunnel> tunnel, reactor::Connection& client,
                    const reactor::HostPort& target, std::chrono::milliseconds timeout,
                    Metrics& metrics) {
  client.pause_reading();  // nothing more is buffered until the destination answers
  connect_destination(client.loop(), target, timeout, metrics,
                      std::make_shared<TunnelJoin>(std::move(tunnel)));
}

}  // namespace apps::proxy
