// The proxy's client side: one handler per downstream connection, which runs the shared HTTP
// driver the client chose (ALPN h2, or the preface on a plain listener: apps/http/VersionSelect;
// else HTTP/1.1) with a ProxyExchange (apps/proxy/ProxyExchange.hpp) per request or stream. An
// HTTP/1.1 connection becomes a tunnel (apps/proxy/Tunnel.hpp) after an allowed CONNECT, or
// after the upstream answered a WebSocket request with 101.
#pragma once

#include <memory>

#include "apps/common/Http2Options.hpp"
#include "apps/proxy/AccessLog.hpp"
#include "apps/proxy/LiveConfig.hpp"
#include "apps/proxy/Metrics.hpp"
#include "apps/proxy/ProxyOptions.hpp"
#include "reactor/Handler.hpp"

namespace apps::proxy {

// Makes the client handlers (counted as ClientRecord's counted_clients says); callable on any
// loop's thread. `http2`: whether HTTP/2 is taken, and its limits. `metrics` and `access_log`
// (null: no access log) belong to the caller and must outlive every handler (main owns them and
// destroys them after Server::run returned). Logs a warning when upstream verification is off.
// `live` (may be null: requests always take this build): the build is staged there, and each
// request takes whatever it has published last (main publishes a build once it is taken into
// use), so a reload's routes and upstreams reach the connections already open; it must outlive
// every handler too.
reactor::HandlerFactory reverse_proxy_factory(std::shared_ptr<const ProxyOptions> options,
                                              const Http2Settings& http2, Metrics& metrics,
                                              AccessLog* access_log, LiveConfig* live = nullptr);

}  // namespace apps::proxy
