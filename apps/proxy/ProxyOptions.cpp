#include "apps/proxy/ProxyOptions.hpp"

#include <algorithm>
#include <cctype>

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
      // {name, value, help, default, repeatable, restart_only}
      {"access-log", "FILE", "one line per request: FILE, - for stdout, off for none", "-", false,
       true},
      {"access-log-format", "text|json", "access log lines as text or JSON", "text", false, true},
      {"admin", "HOST:PORT",
       "admin listener, loopback only: GET /healthz, /readyz (503 while draining), /metrics", "",
       false, true},
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
  for (const std::string& url : args.values("upstream")) {
    auto upstream = UpstreamUrl::parse(url, error);
    if (!upstream) {
      error = args.located("upstream", error);
      return nullptr;
    }
    options->upstreams.push_back(std::move(*upstream));
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
  options->access_log = args.get("access-log");
  const std::string format = args.get("access-log-format");
  if (format == "json")
    options->access_log_format = AccessLogFormat::json;
  else if (format != "text")
    read.complain("access-log-format", "expected text or json, got '" + format + "'");
  if (read.failed()) return nullptr;

  const bool any_https = std::any_of(options->upstreams.begin(), options->upstreams.end(),
                                     [](const UpstreamUrl& u) { return u.tls; });
  if (any_https) {
    tls::ClientConfig config;
    config.verify = !options->upstream_insecure;
    config.ca_file = args.get("upstream-ca");
    config.alpn = {"http/1.1"};
    auto made = tls::Context::client(config);
    if (!made) {
      error = args.located("upstream-ca", "--upstream-ca: " + made.error().detail());
      return nullptr;
    }
    options->upstream_tls = *made;
  }
  return options;
}

}  // namespace apps::proxy
