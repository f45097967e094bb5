// Everything the proxy's request path is configured with, the command-line options that set
// it, and the parsing from those options. The option list lives here, in one place, so that
// other front ends (a configuration file) feed the same names through the same checks.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/common/Args.hpp"
#include "apps/http/HttpParser.hpp"
#include "apps/proxy/AccessLog.hpp"
#include "apps/proxy/Cidr.hpp"
#include "reactor/Address.hpp"

namespace tls {
class Context;
}

namespace apps::proxy {

class RouteTable;

// One --upstream: "http://host:port" or "https://host:port" (no path: the request's target is
// forwarded as the client sent it).
struct UpstreamUrl {
  bool tls = false;
  reactor::HostPort target;
  std::string text;       // normalised, for logs: "https://example.com:8443"
  std::string authority;  // "example.com:8443": the Host of a request that came without one
  // https only: the certificate presented when the upstream asks for one (mutual TLS), from
  // --upstream-client-cert/-key or its [[group]]'s client-cert/client-key; empty: none.
  // `client_cert_source` names where it was set ("proxy.toml:7"), for errors at build.
  std::string client_cert, client_key, client_cert_source;
  // https only: the client Context its connections use (proxy_options_from builds one per
  // distinct client certificate). Shared, immutable.
  std::shared_ptr<const tls::Context> tls_context;

  // nullopt with `error` saying why ("--upstream ftp://x: the scheme must be http or https").
  static std::optional<UpstreamUrl> parse(std::string_view url, std::string& error);
};

struct ProxyOptions {
  // The --upstreams, then those only the config file's [[group]]s name (RouteConfig.hpp).
  std::vector<UpstreamUrl> upstreams;
  // The config file's routes; null when it has none: every request goes to every upstream.
  std::shared_ptr<const RouteTable> routes;
  // The client Context for https upstreams without a client certificate (verification against
  // --upstream-ca or the system store, unless --upstream-insecure); null when every upstream is
  // http. Each UpstreamUrl::tls_context is this one or one with its client certificate.
  std::shared_ptr<const tls::Context> upstream_tls;
  bool upstream_insecure = false;
  unsigned upstream_keepalive = 32;  // idle connections kept per loop per upstream (IdleSurplus)
  std::chrono::milliseconds upstream_idle_timeout{30000};
  std::chrono::milliseconds upstream_down_time{10000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds response_timeout{60000};
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{60000};
  std::chrono::milliseconds idle_timeout{60000};  // a client's keep-alive wait between requests
  http::HttpParser::Limits limits{};
  // A WebSocket or CONNECT tunnel with no byte either way for this long is closed. 0: never.
  std::chrono::milliseconds tunnel_idle_timeout{3600000};
  std::vector<std::string> allow_connect;  // "host:port", lower case, as clients send it
  bool tls = true;                         // clients speak TLS (X-Forwarded-Proto)
  // Send the client's TLS certificate (and the chain it sent) upstream in RFC 9440's
  // Client-Cert / Client-Cert-Chain (--forward-client-cert). Clients' own are always dropped.
  bool forward_client_cert = false;
  // Clients whose X-Request-Id is kept (--trust-request-id-from); others get a new one.
  std::vector<Cidr> trust_request_id_from;
  std::string access_log = "-";  // "-" stdout, "off" none, else a file
  AccessLogFormat access_log_format = AccessLogFormat::text;
};

// The proxy's own options (server_options adds --listen, --threads, --idle-timeout,
// --drain-timeout and the TLS ones).
std::vector<Args::Option> proxy_option_list();

// Reads and checks the options parsed into `args`. On a bad value returns nullptr, with `error`
// naming the option and the reason, or with `error` empty when Args' typed getter already
// reported it (as they do, naming the option). Builds the upstream TLS Context (so a bad
// --upstream-ca is reported here) and the route table (warnings about it are logged).
std::shared_ptr<const ProxyOptions> proxy_options_from(const Args& args, std::string& error);

}  // namespace apps::proxy
