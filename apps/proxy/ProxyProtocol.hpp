// The PROXY protocol on a listener (nginx `listen ... proxy_protocol` + `set_real_ip_from`,
// HAProxy `accept-proxy`): a connection from a trusted source must start with a PROXY v1 or
// v2 header, which is read and stripped before the next layer (the TLS transport) sees a
// byte; from then on the header's client address is the connection's peer_address(), for
// every layer above (TLS, the proxy's X-Forwarded-For, the access log).
//
// A trusted source that sends no header, a malformed one, or none within the deadline is
// closed with one warning line. Connections from other sources are passed through untouched:
// a PROXY header from them reaches the TLS layer as garbage and fails there, so an untrusted
// client cannot forge its address.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

#include "apps/proxy/Cidr.hpp"
#include "apps/proxy/ProxyHeader.hpp"
#include "reactor/Handler.hpp"

namespace apps::proxy {

struct ProxyProtocolOptions {
  std::vector<Cidr> trusted;  // sources that must send a header (empty: the feature is off)
  // From TCP open until the whole header has arrived.
  std::chrono::milliseconds header_timeout{5000};
  std::size_t max_v2_bytes = ProxyHeaderParser::default_v2_max_bytes;
};

// Wraps each connection's handler from `inner` (typically tls::server_factory(...)) in the
// PROXY protocol decorator. With no trusted sources it returns `inner` itself. Thread-safe as
// `inner` is: call it from any loop.
reactor::HandlerFactory proxy_protocol_factory(ProxyProtocolOptions options,
                                               reactor::HandlerFactory inner);
reactor::HandlerFactory proxy_protocol_factory(std::vector<Cidr> trusted,
                                               reactor::HandlerFactory inner);

}  // namespace apps::proxy
