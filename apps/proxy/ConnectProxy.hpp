// The proxy's forward mode: a CONNECT host:port that the allow-list admits connects to the
// destination, and the client's side becomes a tunnel to it. Over HTTP/1.1 the exchange
// (ProxyExchange) makes a Tunnel (apps/proxy/Tunnel.hpp) of its whole connection; over HTTP/2 one
// stream is the client's side. Both take the same policy (check_connect) and the same
// destination side (connect_destination) from here.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/proxy/Metrics.hpp"
#include "apps/proxy/Tunnel.hpp"
#include "reactor/Address.hpp"
#include "reactor/Connection.hpp"
#include "reactor/Loop.hpp"

namespace apps::proxy {

// Whether `target` ("host:port", lower case) is on the allow-list.
bool connect_allowed(const std::vector<std::string>& allow_list, std::string_view target);

// A CONNECT request's target judged by the forward mode's policy, the same for every protocol:
// `refusal` is 0 and `destination` set when it may go on; else the status (501 CONNECT is off,
// 400 not HOST:PORT, 403 not on the allow-list) and `why`, the refusal's one-line reason.
struct ConnectCheck {
  int refusal = 0;
  std::string why;
  std::string target;  // lower case, as the allow-list and the access log's upstream take it
  std::optional<reactor::HostPort> destination;
};
ConnectCheck check_connect(const std::vector<std::string>& allow_list, std::string_view target);

// What a destination's connection reports to: an UpstreamRelay once open, told first whether
// the connect succeeded. Loop thread only.
class ConnectRelay : public UpstreamRelay {
 public:
  // The destination is open: relay from here on (its callbacks follow as UpstreamRelay's).
  virtual void connected(reactor::Connection& destination) = 0;
  // It never opened (refused, unreachable, --connect-timeout): the answer is 502 with `why`.
  virtual void connect_failed(const std::string& why) = 0;

 protected:
  ~ConnectRelay() = default;
};

// Connects to `destination` within `timeout`; the outcome and then the connection's callbacks
// go to `relay`, which the connection's handler shares until its on_close. A failure is logged
// and counted as a refused upstream in `metrics`, which outlives the connect.
void connect_destination(reactor::Loop& loop, const reactor::HostPort& destination,
                         std::chrono::milliseconds timeout, Metrics& metrics,
                         std::shared_ptr<ConnectRelay> relay);

// HTTP/1.1: connects to `target` for `tunnel`, whose client is `client`: the client's reading
// pauses until the destination answers; then "200 Connection Established" and the relay, or a
// 502 saying why the connect failed. Called on the client's loop; `metrics` outlives the connect.
void connect_tunnel(std::shared_ptr<Tunnel> tunnel, reactor::Connection& client,
                    const reactor::HostPort& target, std::chrono::milliseconds timeout,
                    Metrics& metrics);

}  // namespace apps::proxy
