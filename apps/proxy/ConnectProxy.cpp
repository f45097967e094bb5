#include "apps/proxy/ConnectProxy.hpp"

#include <algorithm>

#include "apps/proxy/HeaderRewrite.hpp"
#include "reactor/Log.hpp"
#include "reactor/TcpConnector.hpp"

namespace apps::proxy {
namespace {

// The destination's connection: its Handler hands everything to the tunnel.
class Destination final : public reactor::Handler {
 public:
  Destination(std::shared_ptr<Tunnel> tunnel, Metrics& metrics)
      : tunnel_(std::move(tunnel)), metrics_(metrics) {}

  void on_open(reactor::Connection& destination) override {
    opened_ = true;
    tunnel_->join(destination, 200, "HTTP/1.1 200 Connection Established\r\n\r\n", {});
  }
  void on_data(reactor::Connection&, std::span<const std::byte> data) override {
    tunnel_->data(Tunnel::Side::upstream, data);
  }
  void on_drain(reactor::Connection&) override { tunnel_->drain(Tunnel::Side::upstream); }
  void on_peer_closed(reactor::Connection&) override {
    tunnel_->peer_closed(Tunnel::Side::upstream);
  }
  void on_close(reactor::Connection&, const reactor::Error& error) override {
    if (opened_) return tunnel_->closed(Tunnel::Side::upstream);
    reactor::log::info("CONNECT failed: " + error.message());
    metrics_.count(Metrics::UpstreamError::refused);
    tunnel_->refuse(502, error_response(502, error.message()));
  }

 private:
  std::shared_ptr<Tunnel> tunnel_;
  Metrics& metrics_;
  bool opened_ = false;
};

}  // namespace

bool connect_allowed(const std::vector<std::string>& allow_list, std::string_view target) {
  return std::find(allow_list.begin(), allow_list.end(), target) != allow_list.end();
}

void connect_tunnel(std::shared_ptr<Tunnel> tunnel, reactor::Connection& client,
                    const reactor::HostPort& target, std::chrono::milliseconds timeout,
                    Metrics& metrics) {
  client.pause_reading();  // nothing more is buffered until the destination answers
  reactor::ConnectOptions options;
  options.timeout = timeout;
  reactor::TcpConnector(client.loop(), options)
      .connect(target, std::make_unique<Destination>(std::move(tunnel), metrics));
}

}  // namespace apps::proxy
