// The one byte relay behind both of the proxy's tunnels: a WebSocket once the upstream answered
// 101, and a CONNECT once the destination opened. Bytes go both ways with backpressure (a side
// whose write queue is full pauses reading on the other) and half-close (one side's FIN or
// close_notify shuts down the other's writing; the other direction keeps flowing).
//
// The tunnel is no connection's Handler: each side's handler forwards its callbacks here from
// the moment it tunnels (for the client side, ProxyExchange's TunnelClient, the handler the
// HTTP/1.1 driver hands the connection to; for the upstream side, an UpstreamLink or
// CONNECT's destination handler for the upstream side). So a connection opened for HTTP, pooled
// or new, plain or TLS, is taken over as it is, with the bytes it had already read.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "apps/proxy/AccessLog.hpp"
#include "apps/proxy/Metrics.hpp"
#include "reactor/Connection.hpp"

namespace apps::proxy {

// What an upstream connection taken over after a 101 forwards its callbacks to, from
// UpstreamLink::hand_over on: a Tunnel to a client connection, or an HTTP/2 stream's relay
// (ProxyExchange's WebSocket over HTTP/2). Loop thread only.
class UpstreamRelay {
 public:
  virtual void upstream_data(std::span<const std::byte> bytes) = 0;
  virtual void upstream_drain() = 0;        // the upstream's write queue drained
  virtual void upstream_peer_closed() = 0;  // the upstream sent its FIN
  virtual void upstream_closed() = 0;       // its on_close: the connection is gone after this

 protected:
  ~UpstreamRelay() = default;
};

// Lifetime: shared (std::shared_ptr) by the two side handlers, each of which drops its share
// when its connection's on_close returns; the tunnel so outlives both connections' last call.
// The connection pointers it holds are cleared by closed(), the side's on_close. Loop thread
// only (both connections live on one loop).
class Tunnel final : public UpstreamRelay {
 public:
  enum class Side : std::uint8_t { client, upstream };

  struct Setup {
    Metrics::TunnelKind kind = Metrics::TunnelKind::websocket;
    // No byte either way for this long closes both sides (each connection's idle timeout: a
    // byte relayed is a read on one and a write on the other). 0: none.
    std::chrono::milliseconds idle_timeout{0};
    Metrics* metrics = nullptr;       // required; outlives the tunnel (main owns it)
    AccessLog* access_log = nullptr;  // null: no access log; else outlives the tunnel
    // The request that opened the tunnel, as its exchange recorded it so far (head bytes
    // in bytes_in, a 101 head in bytes_out); the tunnel adds what it relays and writes the line
    // when it ends.
    AccessRecord record;
    std::chrono::steady_clock::time_point started{};  // the request's first byte
  };

  // Made by the exchange whose connection starts tunnelling. `early` holds client
  // bytes read after the request head; client bytes that arrive before join() are kept too.
  Tunnel(reactor::Connection& client, Setup setup, std::string_view early);
  ~Tunnel();
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  // The upstream side is open: `to_client` (a CONNECT's 200; empty after a 101, which the client
  // handler wrote) goes to the client, then what each side sent early to the other, and relaying
  // starts. `status` is the line's status (101, 200). Counted as a tunnel from here.
  void join(reactor::Connection& upstream, int status, std::string_view to_client,
            std::string_view early_from_upstream);
  // The upstream side never opened (CONNECT's connect failed): `answer` goes to the client,
  // which then closes; the access log says `status`.
  void refuse(int status, std::string_view answer);

  // The side handlers' callbacks, forwarded as they come.
  void data(Side from, std::span<const std::byte> bytes);
  void drain(Side side);  // `side`'s write queue drained: the other may read again
  void peer_closed(Side side);
  void closed(Side side);  // `side`'s on_close: its connection is gone after this

  // UpstreamRelay: the upstream side's callbacks.
  void upstream_data(std::span<const std::byte> bytes) override { data(Side::upstream, bytes); }
  void upstream_drain() override { drain(Side::upstream); }
  void upstream_peer_closed() override { peer_closed(Side::upstream); }
  void upstream_closed() override { closed(Side::upstream); }

 private:
  // Moves only in move_to(). connecting -> relaying -> (one side finished) -> closing -> ended;
  // a close of either side or both finishing goes straight to closing.
  enum class State { connecting, relaying, client_done, upstream_done, closing, ended };

  reactor::Connection*& conn(Side side) { return conns_[static_cast<std::size_t>(side)]; }
  static Side other(Side side) { return side == Side::client ? Side::upstream : Side::client; }
  void move_to(State next);
  void send(Side from, std::string_view bytes);
  void close_both();

  reactor::Connection* conns_[2] = {nullptr, nullptr};
  Setup setup_;
  std::string early_;  // client bytes waiting for the upstream side
  State state_ = State::connecting;
  bool counted_ = false;  // join() counted it in tunnels_active
};

}  // namespace apps::proxy
