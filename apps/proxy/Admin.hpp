// The proxy's admin endpoint (--admin HOST:PORT), the way load balancers and Prometheus expect
// one: GET /healthz (200 "ok": the process serves), GET /readyz (200 "ready", or 503
// "draining" once a SIGTERM drain began, so a balancer stops sending new clients), GET
// /metrics (Prometheus text 0.0.4). Other paths get 404, other methods 405. HTTP/1.1 with
// keep-alive and pipelining, parsed by the apps' shared apps/http parser; no TLS and no
// authentication, which is why it binds to loopback only (nginx: a `stub_status` location
// with `allow 127.0.0.1; deny all;`; HAProxy: `http-request use-service prometheus-exporter`
// on a local frontend).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/proxy/Metrics.hpp"
#include "reactor/Address.hpp"
#include "reactor/Handler.hpp"
#include "reactor/Server.hpp"

namespace apps::proxy {

// Where the endpoint's answers come from. The functions run on the admin listener's loop
// (loop 0 of the reactor::Server, the thread on_reload runs on), once per request.
struct AdminSources {
  const Metrics* metrics = nullptr;  // required; must outlive the server
  // True once the server drains: reactor::Server::draining(). Unset: never draining.
  std::function<bool()> draining;
  // The served certificates for the expiry gauge (read at start-up and on reload with
  // read_certificate_expiry, not per scrape). Unset: no certificate samples.
  std::function<std::vector<CertificateExpiry>()> certificates;
  // Seconds since the epoch for the expiry gauge. Unset: the system clock.
  std::function<std::int64_t()> now_unix;
};

// One admin handler per accepted connection. Thread-safe to call (it only copies a pointer).
reactor::HandlerFactory admin_factory(std::shared_ptr<const AdminSources> sources);

// The reactor::Server extra listener that serves the endpoint through a drain: put it in
// ServerOptions::extra_listeners. Idle keep-alive connections close after `idle_timeout`.
reactor::ExtraListener admin_listener(
    const reactor::Address& address, std::shared_ptr<const AdminSources> sources,
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(60));

// Parses --admin's HOST:PORT (a literal, or a name resolved at start-up) and refuses any
// address that is not loopback. nullopt with `error` set, e.g. "--admin 0.0.0.0:9901: not a
// loopback address: the admin endpoint has no authentication, so it binds to 127.0.0.0/8 or
// ::1 only".
std::optional<reactor::Address> admin_address(std::string_view host_port, std::string& error);

// A listener option's HOST:PORT resolved for listening (the admin's, --redirect-listen's);
// nullopt with `error` naming the option and its value ("--OPTION VALUE: ...", with `example`
// when it is not HOST:PORT at all).
std::optional<reactor::Address> listen_address(std::string_view option, std::string_view host_port,
                                               std::string_view example, std::string& error);

}  // namespace apps::proxy
