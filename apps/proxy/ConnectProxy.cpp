#include "apps/proxy/ConnectProxy.hpp"

#include <algorithm>

#include "apps/proxy/HeaderRewrite.hpp"
#include "reactor/Log.hpp"
#include "reactor/TcpConnector.hpp"

namespace apps::proxy {
namespace {

// Relays one direction: what `from` receives goes to `to`; when `to` is full, `from` pauses.
void relay(reactor::Connection& from, reactor::Connection* to, std::span<const std::byte> data) {
  if (to != nullptr && !to->write(data)) from.pause_reading();
}

}  // namespace

bool connect_allowed(const std::vector<std::string>& allow_list, std::string_view target) {
  return std::find(allow_list.begin(), allow_list.end(), target) != allow_list.end();
}

// The destination's side of a tunnel, as the Handler of that connection.
class Tunnel::Destination final : public reactor::Handler {
 public:
  explicit Destination(std::shared_ptr<Tunnel> tunnel) : tunnel_(std::move(tunnel)) {}

  void on_open(reactor::Connection& destination) override {
    Tunnel& t = *tunnel_;
    t.destination_ = &destination;
    if (t.client_ == nullptr) return destination.close();
    t.established_ = true;
    t.client_->write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (!t.early_.empty()) destination.write(std::exchange(t.early_, {}));
    t.client_->resume_reading();
  }
  void on_data(reactor::Connection& destination, std::span<const std::byte> data) override {
    Metrics::add(tunnel_->metrics_.bytes_out, data.size());
    relay(destination, tunnel_->client_, data);
  }
  void on_drain(reactor::Connection&) override {
    if (tunnel_->client_ != nullptr) tunnel_->client_->resume_reading();
  }
  // The destination finished: the client gets everything, then our close (close_notify, FIN).
  void on_peer_closed(reactor::Connection& destination) override {
    if (tunnel_->client_ != nullptr)
      tunnel_->client_->close();
    else
      destination.close();
  }
  void on_close(reactor::Connection&, const reactor::Error& error) override {
    Tunnel& t = *tunnel_;
    t.destination_ = nullptr;
    if (t.client_ == nullptr) return;
    if (!t.established_) {
      reactor::log::info("CONNECT failed: " + error.message());
      t.metrics_.count(Metrics::UpstreamError::refused);
      t.client_->write(error_response(502, error.message()));
    }
    t.client_->close();
  }

 private:
  std::shared_ptr<Tunnel> tunnel_;
};

std::shared_ptr<Tunnel> Tunnel::open(reactor::Connection& client, const reactor::HostPort& target,
                                     std::string_view early, std::chrono::milliseconds timeout,
                                     Metrics& metrics) {
  auto tunnel = std::make_shared<Tunnel>(client, early, metrics);
  client.pause_reading();  // nothing more is buffered until the destination answers
  reactor::ConnectOptions options;
  options.timeout = timeout;
  reactor::TcpConnector(client.loop(), options)
      .connect(target, std::make_unique<Destination>(tunnel));
  return tunnel;
}

void Tunnel::client_data(reactor::Connection& client, std::span<const std::byte> data) {
  if (established_) return relay(client, destination_, data);
  early_.append(reinterpret_cast<const char*>(data.data()), data.size());
}

void Tunnel::client_drain() {
  if (destination_ != nullptr) destination_->resume_reading();
}

// The client finished sending: pass its FIN on, keep relaying the other way.
void Tunnel::client_peer_closed(reactor::Connection& client) {
  if (destination_ != nullptr)
    destination_->shutdown();
  else
    client.close();
}

void Tunnel::client_closed() {
  client_ = nullptr;
  if (destination_ != nullptr) destination_->close();
}

}  // namespace apps::proxy
