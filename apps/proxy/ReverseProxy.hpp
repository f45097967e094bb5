// The proxy's client side: one handler per downstream connection that reads HTTP/1.1 requests
// and either forwards each to an upstream (keep-alive both ways, bodies streamed with
// backpressure, heads rewritten as a proxy must) or becomes a tunnel (apps/proxy/Tunnel.hpp):
// after an allowed CONNECT, or after the upstream answered a WebSocket request with 101.
#pragma once

#include <memory>

#include "apps/proxy/AccessLog.hpp"
#include "apps/proxy/Metrics.hpp"
#include "apps/proxy/ProxyOptions.hpp"
#include "reactor/Handler.hpp"

namespace apps::proxy {

// Makes the client handlers; callable on any loop's thread. `metrics` and `access_log` (null:
// no access log) belong to the caller and must outlive every handler (main owns them and
// destroys them after Server::run returned). Logs a warning when upstream verification is off.
reactor::HandlerFactory reverse_proxy_factory(std::shared_ptr<const ProxyOptions> options,
                                              Metrics& metrics, AccessLog* access_log);

}  // namespace apps::proxy
