// tlsreactor-proxy: terminates TLS and forwards HTTP/1.1 and HTTP/2 requests as HTTP/1.1 to
// upstreams (reverse proxy), and
// relays CONNECT tunnels to allowed destinations (forward proxy).
#include <ctime>
#include <iostream>

#include "apps/common/Http2Options.hpp"
#include "apps/common/ServerApp.hpp"
#include "apps/proxy/AccessLog.hpp"
#include "apps/proxy/Admin.hpp"
#include "apps/proxy/Cidr.hpp"
#include "apps/proxy/HealthChecks.hpp"
#include "apps/proxy/Metrics.hpp"
#include "apps/proxy/ProxyOptions.hpp"
#include "apps/proxy/ProxyProtocol.hpp"
#include "apps/proxy/RedirectListener.hpp"
#include "apps/proxy/ReverseProxy.hpp"
#include "apps/proxy/RouteConfig.hpp"
#include "reactor/Log.hpp"

namespace {

// The certificates in use, for the expiry gauge: the --cert files, or the development one.
std::vector<apps::proxy::CertificateExpiry> certificates_of(const apps::Args& args) {
  std::vector<std::string> files = args.values("cert");
  if (files.empty() && apps::serves_tls(args))
    files.push_back(args.get("dev-cert-dir") + "/cert.pem");
  std::vector<apps::proxy::CertificateExpiry> out;
  for (const auto& file : files) {
    std::string error;
    if (auto expiry = apps::proxy::read_certificate_expiry(file, error))
      out.push_back(*expiry);
    else
      reactor::log::warn("certificate expiry of " + file + " unknown: " + error);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace apps::proxy;
  apps::Args args(
      "tlsreactor-proxy",
      "Terminates TLS (a development certificate without --cert; --plain for cleartext) and\n"
      "forwards HTTP/1.1 and HTTP/2 requests (as HTTP/1.1) to the --upstream servers, round\n"
      "robin, with keep-alive on both sides, and relays WebSockets. CONNECT HOST:PORT is relayed to the destinations\n"
      "given with --allow-connect. SIGTERM finishes the requests in flight, then exits 0;\n"
      "SIGHUP re-reads the configuration, certificates and ticket keys for new connections;\n"
      "SIGUSR1 reopens the access log file (after logrotate moved it).",
      apps::server_options("127.0.0.1:8443", proxy_option_list(), apps::TlsDefault::on));
  args.set_table_keys(route_table_keys());  // [[group]] and [[route]] in --config
  if (!args.parse(argc, argv)) return args.exit_code();

  // Owned here, outliving the server and every handler it makes (serve() returns after the
  // loops closed). Restart-only: a reload keeps them.
  Metrics metrics;
  std::unique_ptr<AccessLog> access_log;
  if (const std::string path = args.get("access-log"); path != "off" && !args.flag("check")) {
    std::string error;
    const auto format =
        args.get("access-log-format") == "json" ? AccessLogFormat::json : AccessLogFormat::text;
    access_log = AccessLog::open(path, format, error);
    if (!access_log) {
      std::cerr << "tlsreactor-proxy: " << args.located("access-log", error) << "\n";
      return 1;
    }
  }

  apps::ServeExtras extras;
  reactor::Server* server = nullptr;
  std::vector<CertificateExpiry> certificates;  // touched at start, then on loop 0 only
  if (const std::string admin = args.get("admin"); !admin.empty()) {
    std::string error;
    const auto address = admin_address(admin, error);
    if (!address) {
      std::cerr << "tlsreactor-proxy: " << args.located("admin", error) << "\n";
      return args.flag("check") ? 1 : 2;
    }
    auto sources = std::make_shared<AdminSources>();
    sources->metrics = &metrics;
    sources->draining = [&server] { return server != nullptr && server->draining(); };
    sources->certificates = [&certificates] { return certificates; };
    sources->now_unix = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
    extras.extra_listeners.push_back(admin_listener(*address, std::move(sources)));
  }
  const bool admin = !extras.extra_listeners.empty();
  if (const std::string redirect = args.get("redirect-listen"); !redirect.empty()) {
    std::string error;
    const auto address = redirect_address(redirect, error);
    if (!address) {
      std::cerr << "tlsreactor-proxy: " << args.located("redirect-listen", error) << "\n";
      return args.flag("check") ? 1 : 2;
    }
    // A redirect needs no more than a request head: the parser's default limits, and the
    // proxy's own head and idle timeouts (a bad value fails the build that follows).
    apps::http::Http1Options http1;
    http1.head_timeout = args.seconds("header-timeout").value_or(std::chrono::seconds(10));
    extras.extra_listeners.push_back(
        redirect_listener(*address, std::move(http1),
                          args.seconds("idle-timeout").value_or(std::chrono::seconds(60))));
  }
  extras.on_listening = [&server, admin,
                         redirect = extras.extra_listeners.size() >
                                    (admin ? 1U : 0U)](reactor::Server& running) {
    server = &running;
    if (admin)
      std::cout << "tlsreactor-proxy: admin on " << running.extra_address(0).to_string()
                << std::endl;
    if (redirect)
      std::cout << "tlsreactor-proxy: redirect to https on "
                << running.extra_address(admin ? 1 : 0).to_string() << std::endl;
  };
  extras.on_reopen = [log = access_log.get()] {
    if (log == nullptr) return reactor::log::info("SIGUSR1: no access log file to reopen");
    std::string error;
    if (!log->reopen(error))
      reactor::log::error("SIGUSR1: " + error + "; the old file stays in use");
  };
  LiveConfig live;      // outlives the server, like metrics
  HealthChecks checks;  // its own thread; stopped and joined before metrics goes
  extras.on_built = [&certificates, &live, &checks](const apps::Args& built) {
    certificates = certificates_of(built);
    live.publish_staged();
    checks.watch(live.published());
  };
  extras.outer = [](const apps::Args& built, reactor::HandlerFactory inner,
                    std::string& error) -> reactor::HandlerFactory {
    const std::string from = built.get("proxy-protocol-from");
    if (from.empty()) return inner;
    auto trusted = parse_cidr_list(from, error);
    if (!trusted) {
      error = built.located("proxy-protocol-from", "--proxy-protocol-from: " + error);
      return {};
    }
    return proxy_protocol_factory(std::move(*trusted), std::move(inner));
  };

  auto build = [&metrics, &live, log = access_log.get()](
                   const apps::Args& built, std::string& error) -> reactor::HandlerFactory {
    auto options = proxy_options_from(built, error);
    if (!options) return {};
    apps::Http2Settings http2;
    if (!apps::read_http2(built, http2)) return {};
    return reverse_proxy_factory(std::move(options), http2, metrics, log, &live);
  };
  return apps::serve(args, "tlsreactor-proxy", build, apps::http_alpn(args), std::move(extras));
}
