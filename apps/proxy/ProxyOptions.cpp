#include "apps/proxy/ProxyOptions.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include "apps/common/Http2Options.hpp"
#include "apps/common/TlsOptions.hpp"
#include "apps/proxy/RouteConfig.hpp"
#include "apps/proxy/RouteTable.hpp"
#include "reactor/Log.hpp"
#include "tls/Context.hpp"

namespace apps::proxy {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The typed reads of the options. Args' getters report a bad value themselves (naming the
// option); checks of the proxy's own set `error` instead.
class Reader {
 public:
  Reader(const Args& args, std::string& error) : args_(args), error_(error) {}

  void seconds(const char* name, std::chrono::milliseconds& out) {
    if (auto value = args_.seconds(name))
      out = *value;
    else
      failed_ = true;
  }
  template <typename T>
  void count(const char* name, unsigned min, unsigned max, T& out) {
    if (auto value = args_.count(name, min, max))
      out = *value;
    else
      failed_ = true;
  }
  void complain(const std::string& name, const std::string& reason) {
    if (!failed_) error_ = args_.located(name, "--" + name + ": " + reason);
    failed_ = true;
  }
  bool failed() const { return failed_; }

 private:
  const Args& args_;
  std::string& error_;
  bool failed_ = false;
};

}  // namespace

std::optional<UpstreamUrl> UpstreamUrl::parse(std::string_view url, std::string& error) {
  const auto fail = [&](const std::string& why) -> std::optional<UpstreamUrl> {
    error = "--upstream " + std::string(url) + ": " + why;
    return std::nullopt;
  };
  UpstreamUrl result;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return fail("expected http://HOST:PORT or https://...");
  const std::string scheme = lower(std::string(url.substr(0, scheme_end)));
  if (scheme != "http" && scheme != "https") return fail("the scheme must be http or https");
  result.tls = scheme == "https";
  std::string_view authority = url.substr(scheme_end + 3);
  if (authority.ends_with('/')) authority.remove_suffix(1);  // "http://h:1/" means the same
  if (authority.find_first_of("/?#@") != std::string_view::npos)
    return fail("only HOST:PORT may follow the scheme (no path, query or user)");
  if (authority.empty()) return fail("no host");
  const bool has_port = authority.back() != ']' && authority.rfind(':') != std::string_view::npos;
  const std::string with_port =
      has_port ? std::string(authority) : std::string(authority) + (result.tls ? ":443" : ":80");
  auto target = reactor::HostPort::parse(with_port);
  if (!target || target->host.empty() || target->port == 0)
    return fail("expected HOST:PORT with a port from 1 to 65535");
  target->host = lower(target->host);
  result.target = *target;
  result.authority = target->to_string();
  result.text = scheme + "://" + result.authority;
  return result;
}

std::vector<Args::Option> proxy_option_list() {
  std::vector<Args::Option> options{
      {"upstream", "URL", "forward requests to http://HOST:PORT or https://HOST:PORT, round robin",
       "", true},
      {"upstream-ca", "FILE", "CA certificates (PEM) for https upstreams (default: system store)",
       ""},
      {"upstream-insecure", "", "do not verify https upstreams (logs a warning)", ""},
      {"upstream-client-cert", "FILE",
       "certificate chain (PEM) the --upstream https URLs are shown when they ask for one\n"
       "(mutual TLS; [[group]]s set their own with client-cert)",
       ""},
      {"upstream-client-key", "FILE", "private key (PEM) of --upstream-client-cert", ""},
      {"upstream-keepalive", "N",
       "idle upstream connections kept per loop per upstream (more close once unused for 1 s)",
       "32"},
      {"upstream-idle-timeout", "SECONDS", "close pooled upstream connections idle this long",
       "30"},
      {"upstream-down-time", "SECONDS",
       "skip an upstream marked down (docs/proxy.md, Health) this long, then try it", "10"},
      {"connect-timeout", "SECONDS", "give up connecting to an upstream (or CONNECT destination)",
       "5"},
      {"response-timeout", "SECONDS",
       "wait this long for an upstream's response head and between reads of its body (504)", "60"},
      {"header-timeout", "SECONDS", "read a request head within this long of its first byte (408)",
       "10"},
      {"body-timeout", "SECONDS", "longest pause between reads of a request body (408)", "60"},
      {"max-header-bytes", "N", "request head size limit (431)", "32768"},
      {"max-headers", "N", "request header count limit (431)", "100"},
      {"allow-connect", "HOST:PORT[,...]", "destinations CONNECT may reach (default: none)", ""},
      {"tunnel-idle-timeout", "SECONDS",
       "close a WebSocket or CONNECT tunnel after this long without a byte either way", "3600"},
      {"forward-client-cert", "",
       "send the client's TLS certificate upstream in Client-Cert / Client-Cert-Chain\n"
       "(RFC 9440); clients' own fields of those names are always dropped",
       ""},
      {"trust-request-id-from", "CIDR[,...]",
       "keep the X-Request-Id of clients from these sources (others get a new one)", ""},
      // {name, value, help, default, repeatable, restart_only}
      {"access-log", "FILE", "one line per request: FILE, - for stdout, off for none", "-", false,
       true},
      {"access-log-format", "text|json", "access log lines as text or JSON", "text", false, true},
      {"admin", "HOST:PORT",
       "admin listener, loopback only: GET /healthz, /readyz (503 while draining), /metrics", "",
       false, true},
      {"redirect-listen", "HOST:PORT",
       "also listen here, plain HTTP, answering every request 301 to https://$host$request_uri "
       "(nginx: server { listen 80; return 301 https://$host$request_uri; })",
       "", false, true},
      {"proxy-protocol-from", "CIDR[,...]",
       "connections from these sources must start with a PROXY protocol v1/v2 header, whose\n"
       "client address then replaces theirs",
       ""},
  };
  for (auto& option : http2_options()) options.push_back(std::move(option));
  return options;
}

std::shared_ptr<const ProxyOptions> proxy_options_from(const Args& args, std::string& error) {
  auto options = std::make_shared<ProxyOptions>();
  error.clear();
  Reader read(args, error);
  const std::string client_cert = args.get("upstream-client-cert");
  const std::string client_key = args.get("upstream-client-key");
  if (client_cert.empty() != client_key.empty()) {
    const char* given = client_cert.empty() ? "upstream-client-key" : "upstream-client-cert";
    error = args.located(given, "--upstream-client-cert and --upstream-client-key go together");
    return nullptr;
  }
  for (const std::string& url : args.values("upstream")) {
    auto upstream = UpstreamUrl::parse(url, error);
    if (!upstream) {
      error = args.located("upstream", error);
      return nullptr;
    }
    if (upstream->tls && !client_cert.empty()) {
      upstream->client_cert = client_cert;
      upstream->client_key = client_key;
      upstream->client_cert_source = args.located("upstream-client-cert", "--upstream-client-cert");
    }
    options->upstreams.push_back(std::move(*upstream));
  }
  if (!client_cert.empty() && std::none_of(options->upstreams.begin(), options->upstreams.end(),
                                           [](const UpstreamUrl& u) { return u.tls; })) {
    error = args.located("upstream-client-cert",
                         "--upstream-client-cert: no --upstream is https:// (a client "
                         "certificate is shown only over TLS)");
    return nullptr;
  }
  std::vector<std::string> warnings;
  const bool routed = read_routes(args, *options, error, warnings);
  for (const auto& warning : warnings) reactor::log::warn(warning);
  if (!routed) return nullptr;
  // The balancer tracks tried upstreams of a request in one 64-bit mask.
  if (options->upstreams.size() > 64)
    read.complain("upstream", "at most 64 upstreams (with the [[group]]s' in all)");
  options->upstream_insecure = args.flag("upstream-insecure");
  read.count("upstream-keepalive", 0, 100000, options->upstream_keepalive);
  read.seconds("upstream-idle-timeout", options->upstream_idle_timeout);
  read.seconds("upstream-down-time", options->upstream_down_time);
  read.seconds("connect-timeout", options->connect_timeout);
  read.seconds("response-timeout", options->response_timeout);
  read.seconds("header-timeout", options->header_timeout);
  read.seconds("body-timeout", options->body_timeout);
  read.seconds("idle-timeout", options->idle_timeout);
  read.seconds("tunnel-idle-timeout", options->tunnel_idle_timeout);
  read.count("max-header-bytes", 256, 1u << 30, options->limits.max_head_bytes);
  read.count("max-headers", 1, 100000, options->limits.max_headers);
  for (const std::string& target : args.list("allow-connect")) {
    if (!reactor::HostPort::parse(target))
      read.complain("allow-connect", "expected HOST:PORT, got '" + target + "'");
    options->allow_connect.push_back(lower(target));
  }
  options->tls = serves_tls(args);
  options->forward_client_cert = args.flag("forward-client-cert");
  if (const std::string ranges = args.get("trust-request-id-from"); !ranges.empty()) {
    std::string why;
    if (auto parsed = parse_cidr_list(ranges, why))
      options->trust_request_id_from = std::move(*parsed);
    else
      read.complain("trust-request-id-from", why);
  }
  options->access_log = args.get("access-log");
  const std::string format = args.get("access-log-format");
  if (format == "json")
    options->access_log_format = AccessLogFormat::json;
  else if (format != "text")
    read.complain("access-log-format", "expected text or json, got '" + format + "'");
  if (read.failed()) return nullptr;

  // One client Context per distinct client certificate (most often one in all): each loads
  // and checks its files here, so a bad file is reported before the proxy serves.
  std::vector<std::pair<std::string, std::shared_ptr<const tls::Context>>> contexts;
  for (UpstreamUrl& url : options->upstreams) {
    if (!url.tls) continue;
    const std::string identity = url.client_cert + '\n' + url.client_key;
    auto same = std::find_if(contexts.begin(), contexts.end(),
                             [&](const auto& made) { return made.first == identity; });
    if (same == contexts.end()) {
      tls::ClientConfig config;
      config.verify = !options->upstream_insecure;
      config.ca_file = args.get("upstream-ca");
      config.alpn = {"http/1.1"};
      config.client_certificate = {url.client_cert, url.client_key};
      auto made = tls::Context::client(config);
      if (!made) {
        // The detail names the file that failed (the CA's or the certificate's).
        error = url.client_cert.empty()
                    ? args.located("upstream-ca", "--upstream-ca: " + made.error().detail())
                    : url.client_cert_source + ": " + made.error().detail();
        return nullptr;
      }
      same = contexts.insert(contexts.end(), {identity, *made});
    }
    url.tls_context = same->second;
    if (url.client_cert.empty()) options->upstream_tls = url.tls_context;
  }
  return options;
}

}  // namespace apps::proxy
