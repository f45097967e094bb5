// The proxy's forward mode: CONNECT host:port over the client's (TLS) connection, allowed only
// for an allow-list of destinations, then bytes relayed both ways with backpressure and
// half-close. Requests other than CONNECT are answered 501 until the reverse proxy lands.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "reactor/Handler.hpp"

namespace apps::proxy {

struct ProxyOptions {
  std::vector<std::string> allow_connect;  // "host:port" exactly as clients send it
  std::chrono::milliseconds connect_timeout{10000};
};

// One handler per client connection; thread-safe to call from any loop (it only reads options).
reactor::HandlerFactory connect_proxy_factory(std::shared_ptr<const ProxyOptions> options);

}  // namespace apps::proxy
