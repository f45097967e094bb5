#include "apps/proxy/ReverseProxy.hpp"

#include <string>
#include <type_traits>
#include <utility>

#include "apps/http/Http1Connection.hpp"
#include "apps/http/Http2Connection.hpp"
#include "apps/http/VersionSelect.hpp"
#include "apps/proxy/ClientCertFields.hpp"
#include "apps/proxy/ClientRecord.hpp"
#include "apps/proxy/ProxyExchange.hpp"
#include "apps/proxy/RequestId.hpp"
#include "apps/proxy/Upstreams.hpp"
#include "reactor/Log.hpp"
#include "reactor/Loop.hpp"
#include "tls/TlsTransport.hpp"

namespace apps::proxy {
namespace {

// A request the HTTP/1.1 driver answered itself (a malformed head, the head timeout): the same
// log line, counters and access-log line as an exchange's error answer.
void refused(ClientSide& side, const http::Refusal& refusal) {
  reactor::log::info(side.record.client + ": " + std::to_string(refusal.status) + " " +
                     std::string(refusal.reason));
  AccessRecord record = side.record;
  record.protocol = "HTTP/1.1";
  finish_request(*side.metrics, side.access_log, record, refusal.status, RequestClock::now());
}

// One client connection: the ClientSide its exchanges share, and the protocol's driver
// (Http1Connection or Http2Connection) making a proxy_exchange per request or stream. The
// connection has the proxy's --idle-timeout while no exchange is open and none while one is
// (ProxyExchange moves it).
template <typename Driver>
class ProxyClient final : public reactor::Handler {
 public:
  template <typename Settings>
  ProxyClient(ClientSide side, Settings settings)
      : side_(std::move(side)),
        driver_([this] { return proxy_exchange(side_); }, bound(std::move(settings))) {}

  void on_open(reactor::Connection& conn) override {
    side_.conn = &conn;
    side_.served = std::make_shared<const ServedConfig>(
        ServedConfig{side_.built, &side_.built->upstreams->on_loop(conn.loop())});
    side_.client_ip = conn.peer_address().ip();
    side_.request_ids = &conn.loop().local<RequestIds>();
    side_.request_id_trusted =
        matches_any(side_.options->trust_request_id_from, conn.peer_address());
    if (const tls::TlsInfo* info = tls::info(conn);
        info != nullptr && side_.options->forward_client_cert) {
      side_.client_cert = client_cert_field(info->peer_certificate);
      side_.client_cert_chain = client_cert_chain_field(info->peer_chain);
    }
    record_connection(conn, side_.record);
    conn.set_idle_timeout(side_.options->idle_timeout);
    driver_.on_open(conn);
  }
  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override {
    driver_.on_data(conn, data);
  }
  void on_drain(reactor::Connection& conn) override { driver_.on_drain(conn); }
  void on_peer_closed(reactor::Connection& conn) override { driver_.on_peer_closed(conn); }
  void on_server_stopping(reactor::Connection& conn) override { driver_.on_server_stopping(conn); }
  void on_close(reactor::Connection& conn, const reactor::Error& error) override {
    driver_.on_close(conn, error);
    side_.conn = nullptr;
  }

 private:
  template <typename Settings>
  Settings bound(Settings settings) {
    if constexpr (std::is_same_v<Settings, http::Http1Options>)
      settings.on_refused = [this](const http::Refusal& refusal) { refused(side_, refusal); };
    return settings;
  }

  ClientSide side_;
  Driver driver_;  // after side_: its exchanges refer to side_
};

template <typename Driver, typename Settings>
reactor::HandlerFactory client_factory(const ClientSide& side, Settings settings) {
  return [side, settings = std::move(settings)]() -> std::unique_ptr<reactor::Handler> {
    return std::make_unique<ProxyClient<Driver>>(side, settings);
  };
}

}  // namespace

reactor::HandlerFactory reverse_proxy_factory(std::shared_ptr<const ProxyOptions> options,
                                              const Http2Settings& http2, Metrics& metrics,
                                              AccessLog* access_log, LiveConfig* live) {
  if (options->upstream_insecure)
    reactor::log::warn(
        "--upstream-insecure: https upstreams are NOT verified; anyone on the path can "
        "impersonate them");
  ClientSide side;
  side.built = std::make_shared<const ProxyConfig>(
      ProxyConfig{options, std::make_shared<const Upstreams>(options, metrics)});
  side.options = options;
  side.live = live;
  if (live != nullptr) live->stage(side.built);
  side.metrics = &metrics;
  side.access_log = access_log;
  http::VersionChoice choice;
  if (http2.enabled) {
    http::Http2Limits limits = http2.limits;
    limits.extended_connect = true;  // WebSockets over HTTP/2 (RFC 8441)
    choice.http2 = client_factory<http::Http2Connection>(side, limits);
  }
  // Over TLS, ALPN decides; plain listeners take the HTTP/2 preface as prior knowledge.
  choice.prior_knowledge = !options->tls;
  http::Http1Options http1;
  http1.limits = options->limits;
  http1.head_timeout = options->header_timeout;
  http1.connect = true;  // the forward mode's policy (check_connect) answers every CONNECT
  choice.http1 = client_factory<http::Http1Connection>(side, std::move(http1));
  return counted_clients(metrics, http::select_http_version(std::move(choice)));
}

}  // namespace apps::proxy
