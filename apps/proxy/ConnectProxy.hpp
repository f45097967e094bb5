// The proxy's forward mode: a CONNECT host:port that the allow-list admits connects to the
// destination, and the client's connection becomes a Tunnel (apps/proxy/Tunnel.hpp) to it. The
// client handler (ReverseProxy) parses the CONNECT, makes the tunnel and forwards its
// connection's callbacks to it; this file is the destination's side.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "apps/proxy/Metrics.hpp"
#include "apps/proxy/Tunnel.hpp"
#include "reactor/Address.hpp"
#include "reactor/Connection.hpp"

namespace apps::proxy {

// Whether `target` ("host:port", lower case) is on the allow-list.
bool connect_allowed(const std::vector<std::string>& allow_list, std::string_view target);

// Connects to `target` for `tunnel`, whose client is `client`: the client's reading pauses until
// the destination answers; then "200 Connection Established" and the relay, or a 502 saying why
// the connect failed. Called on the client's loop; `metrics` outlives the connect.
void connect_tunnel(std::shared_ptr<Tunnel> tunnel, reactor::Connection& client,
                    const reactor::HostPort& target, std::chrono::milliseconds timeout,
                    Metrics& metrics);

}  // namespace apps::proxy
