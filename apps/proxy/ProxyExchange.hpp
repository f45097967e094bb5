// The proxy's request path as an http::Exchange: one client request, whichever HTTP it came
// over, forwarded as HTTP/1.1 to an upstream from the keep-alive pool (apps/proxy/Upstreams),
// its response streamed back through http::Response. Only the Exchange/Response API faces the
// client: the HTTP/2 driver (Http2Connection) runs one per stream, the HTTP/1.1 one
// (Http1Connection) one per request (ReverseProxy makes both).
//
// - The head is rewritten for the upstream by HeaderRewrite's rules (hop-by-hop and
//   connection-specific fields dropped, X-Forwarded-For/-Proto and Via, Expect answered here);
//   the authority (HTTP/2's :authority) becomes Host; HTTP/2's split cookie fields are joined.
// - Bodies stream both ways with backpressure: a full upstream write queue pauses the request
//   body (its HTTP/2 window stays shut), a response body the client does not take pauses the
//   upstream's reading. Streams of one client connection each take their own upstream
//   connection, so they spread over the pool.
// - Routes (ProxyOptions::routes, from the config file's [[route]]s): looked up once per request
//   in on_request; a redirect, a fixed status or no route (404) is answered there, a proxied
//   request goes to its group's upstreams only, its target's prefix rewritten and the route's
//   header rules applied to the upstream head and to the response's fields.
// - Errors: no upstream reachable 502, none configured or all down 503, no response within
//   --response-timeout 504, a request body stalled past --body-timeout 408; once a response head
//   went out, a failure aborts (HTTP/2: RST_STREAM INTERNAL_ERROR).
// - Tunnels: an RFC 8441 WebSocket becomes the upstream's HTTP/1.1 Upgrade; a plain CONNECT
//   (RFC 9113 8.5) takes ConnectProxy's policy and destination side. Over HTTP/2 the stream's
//   DATA and the upstream connection are then one relay with backpressure and half-close both
//   ways; over HTTP/1.1 the client's Upgrade goes upstream as it came and, at the 101 (or at
//   once for a CONNECT), the whole connection is handed to a Tunnel (apps/proxy/Tunnel.hpp).
#pragma once

#include <memory>
#include <string>

#include "apps/http/Exchange.hpp"
#include "apps/proxy/AccessLog.hpp"
#include "apps/proxy/LiveConfig.hpp"
#include "apps/proxy/Metrics.hpp"
#include "apps/proxy/ProxyOptions.hpp"
#include "reactor/Handler.hpp"

namespace apps::proxy {

class RequestIds;

// What the exchanges of one client connection share. Owned by the connection's handler, which
// outlives them (its driver destroys every exchange before the handler goes).
struct ClientSide {
  // The connection's own settings (its timeouts), from the factory that made it.
  std::shared_ptr<const ProxyOptions> options;
  // What its requests are served with: the factory's build until `live` (null: never) has
  // published a newer one; proxy_exchange() refreshes `served` before each request.
  std::shared_ptr<const ProxyConfig> built;
  const LiveConfig* live = nullptr;
  std::shared_ptr<const ServedConfig> served;  // from on_open
  std::uint64_t generation = 0;                // of `live`, as `served` last saw it
  Metrics* metrics = nullptr;                  // required; outlives every handler (main owns it)
  AccessLog* access_log = nullptr;             // null: no access log; else outlives every handler
  reactor::Connection* conn = nullptr;  // the client connection, from its on_open to on_close
  std::string client_ip;                // for X-Forwarded-For
  RequestIds* request_ids = nullptr;    // the loop's (Loop::local), from on_open
  bool request_id_trusted = false;      // the client's X-Request-Id is kept (from on_open)
  // With --forward-client-cert and a client certificate: the RFC 9440 fields, made once per
  // connection (from on_open); "" otherwise.
  std::string client_cert, client_cert_chain;
  AccessRecord record;        // the connection's fields of every line
  std::size_t exchanges = 0;  // open now (the connection is idle when none is)
};

// One exchange of `client`'s connection, served with the latest published configuration.
// Loop thread only; made by the driver's factory when a request head arrived, destroyed by it
// after on_closed.
std::unique_ptr<http::Exchange> proxy_exchange(ClientSide& client);

}  // namespace apps::proxy
