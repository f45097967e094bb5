// The proxy's forward mode: after a CONNECT host:port that the allow-list admits, bytes are
// relayed both ways between the client's (TLS) connection and the destination, with
// backpressure and half-close. The client handler (ReverseProxy) parses the CONNECT and hands
// its connection's callbacks to the Tunnel from then on.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "apps/proxy/Metrics.hpp"
#include "reactor/Address.hpp"
#include "reactor/Handler.hpp"

namespace apps::proxy {

// Whether `target` ("host:port", lower case) is on the allow-list.
bool connect_allowed(const std::vector<std::string>& allow_list, std::string_view target);

class Tunnel {
 public:
  // Connects to `target` on behalf of `client`, whose reading pauses until the destination
  // answers; then "200 Connection Established" and `early` (bytes the client sent after its
  // CONNECT head) go out, or a 502 saying why the connect failed.
  static std::shared_ptr<Tunnel> open(reactor::Connection& client, const reactor::HostPort& target,
                                      std::string_view early, std::chrono::milliseconds timeout,
                                      Metrics& metrics);

  // The client handler's callbacks, forwarded once it tunnels.
  void client_data(reactor::Connection& client, std::span<const std::byte> data);
  void client_drain();
  void client_peer_closed(reactor::Connection& client);
  void client_closed();

  // Use open(); public for make_shared.
  Tunnel(reactor::Connection& client, std::string_view early, Metrics& metrics)
      : client_(&client), early_(early), metrics_(metrics) {}

 private:
  class Destination;
  friend class Destination;

  // Each pointer is valid until that side's on_close, which clears it.
  reactor::Connection* client_ = nullptr;
  reactor::Connection* destination_ = nullptr;
  std::string early_;  // client bytes that came before the destination opened
  Metrics& metrics_;
  bool established_ = false;
};

}  // namespace apps::proxy
