#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "apps/proxy/Admin.hpp"
#include "apps/proxy/Metrics.hpp"

using apps::proxy::Metrics;

TEST_CASE("render_prometheus writes every family with HELP and TYPE and the counters' values") {
  Metrics m;
  Metrics::add(m.connections_active, 2);
  Metrics::add(m.connections_total, 7);
  Metrics::add(m.handshakes_ok, 5);
  m.count(Metrics::HandshakeFailure::timeout);
  m.count(Metrics::HandshakeFailure::protocol);
  m.count(Metrics::HandshakeFailure::protocol);
  Metrics::add(m.resumptions, 3);
  using Protocol = Metrics::Protocol;
  m.count_request(200, Protocol::http1);
  m.count_request(204, Protocol::http2);
  m.count_request(404, Protocol::http2);
  m.count_request(502, Protocol::http1);
  m.count_request(0, Protocol::http2);  // the client left before any response
  m.count(Metrics::UpstreamError::refused);
  m.count(Metrics::UpstreamError::response_timeout);
  Metrics::add(m.upstream_retries, 4);
  Metrics::add(m.bytes_in, 1000);
  Metrics::add(m.bytes_out, 123456789012);
  m.set_upstream_source([] {
    return std::vector<apps::proxy::UpstreamGauge>{{"app", "http://10.0.0.2:80", false, 2500},
                                                   {"app", "http://10.0.0.3:80", true, -1}};
  });
  m.tunnel_opened(Metrics::TunnelKind::websocket);
  m.tunnel_opened(Metrics::TunnelKind::websocket);
  m.tunnel_opened(Metrics::TunnelKind::connect);
  m.tunnel_closed();
  // "le" is inclusive: 1 ms is in the 0.001 bucket, 1 ms and 1 ns in the next; 11 s only in +Inf.
  using std::chrono::milliseconds, std::chrono::nanoseconds, std::chrono::seconds;
  m.handshake_seconds.observe(milliseconds(1));
  m.handshake_seconds.observe(milliseconds(3));
  m.request_seconds.observe(milliseconds(1) + nanoseconds(1));
  m.request_seconds.observe(seconds(11));
  const std::vector<apps::proxy::CertificateExpiry> certs{
      {"/etc/tls/site.pem", "CN=example.test", 1'000'000 + 86'400},
      {"/old.pem", "CN=old", 999'000},
  };
  const std::string text = apps::proxy::render_prometheus(m, certs, 1'000'000);
  const std::string expected =
      R"(# HELP tlsreactor_proxy_connections_active Client connections open now.
# TYPE tlsreactor_proxy_connections_active gauge
tlsreactor_proxy_connections_active 2
# HELP tlsreactor_proxy_connections_total Client connections accepted.
# TYPE tlsreactor_proxy_connections_total counter
tlsreactor_proxy_connections_total 7
# HELP tlsreactor_proxy_handshakes_total Client TLS handshakes completed.
# TYPE tlsreactor_proxy_handshakes_total counter
tlsreactor_proxy_handshakes_total{result="ok"} 5
# HELP tlsreactor_proxy_handshakes_failed_total Client TLS handshakes failed, by reason.
# TYPE tlsreactor_proxy_handshakes_failed_total counter
tlsreactor_proxy_handshakes_failed_total{reason="timeout"} 1
tlsreactor_proxy_handshakes_failed_total{reason="protocol"} 2
tlsreactor_proxy_handshakes_failed_total{reason="peer_closed"} 0
tlsreactor_proxy_handshakes_failed_total{reason="other"} 0
# HELP tlsreactor_proxy_resumptions_total Client TLS handshakes that resumed a session.
# TYPE tlsreactor_proxy_resumptions_total counter
tlsreactor_proxy_resumptions_total 3
# HELP tlsreactor_proxy_requests_total Requests by response status class (none: the client got no response).
# TYPE tlsreactor_proxy_requests_total counter
tlsreactor_proxy_requests_total{class="none"} 1
tlsreactor_proxy_requests_total{class="1xx"} 0
tlsreactor_proxy_requests_total{class="2xx"} 2
tlsreactor_proxy_requests_total{class="3xx"} 0
tlsreactor_proxy_requests_total{class="4xx"} 1
tlsreactor_proxy_requests_total{class="5xx"} 1
# HELP tlsreactor_proxy_requests_by_protocol_total Requests by the HTTP their client spoke (HTTP/1.0 counts as HTTP/1.1).
# TYPE tlsreactor_proxy_requests_by_protocol_total counter
tlsreactor_proxy_requests_by_protocol_total{protocol="HTTP/1.1"} 2
tlsreactor_proxy_requests_by_protocol_total{protocol="HTTP/2"} 3
# HELP tlsreactor_proxy_upstream_errors_total Failures talking to upstreams, by kind.
# TYPE tlsreactor_proxy_upstream_errors_total counter
tlsreactor_proxy_upstream_errors_total{kind="refused"} 1
tlsreactor_proxy_upstream_errors_total{kind="connect_timeout"} 0
tlsreactor_proxy_upstream_errors_total{kind="response_timeout"} 1
tlsreactor_proxy_upstream_errors_total{kind="tls"} 0
tlsreactor_proxy_upstream_errors_total{kind="protocol"} 0
tlsreactor_proxy_upstream_errors_total{kind="closed"} 0
# HELP tlsreactor_proxy_upstream_retries_total Requests moved to another upstream after a failed connect or a reset.
# TYPE tlsreactor_proxy_upstream_retries_total counter
tlsreactor_proxy_upstream_retries_total 4
# HELP tlsreactor_proxy_upstream_retries_refused_total Retries not made because the group's retry budget was spent.
# TYPE tlsreactor_proxy_upstream_retries_refused_total counter
tlsreactor_proxy_upstream_retries_refused_total 0
# HELP tlsreactor_proxy_bytes_in_total Plaintext bytes received from clients.
# TYPE tlsreactor_proxy_bytes_in_total counter
tlsreactor_proxy_bytes_in_total 1000
# HELP tlsreactor_proxy_bytes_out_total Plaintext bytes sent to clients.
# TYPE tlsreactor_proxy_bytes_out_total counter
tlsreactor_proxy_bytes_out_total 123456789012
# HELP tlsreactor_proxy_tunnels_active WebSocket and CONNECT tunnels relaying now.
# TYPE tlsreactor_proxy_tunnels_active gauge
tlsreactor_proxy_tunnels_active 2
# HELP tlsreactor_proxy_tunnels_total Tunnels that began relaying, by kind.
# TYPE tlsreactor_proxy_tunnels_total counter
tlsreactor_proxy_tunnels_total{kind="websocket"} 2
tlsreactor_proxy_tunnels_total{kind="connect"} 1
# HELP tlsreactor_proxy_handshake_seconds Client TLS handshakes that completed, by time from TCP open to TLS open.
# TYPE tlsreactor_proxy_handshake_seconds histogram
tlsreactor_proxy_handshake_seconds_bucket{le="0.001"} 1
tlsreactor_proxy_handshake_seconds_bucket{le="0.0025"} 1
tlsreactor_proxy_handshake_seconds_bucket{le="0.005"} 2
tlsreactor_proxy_handshake_seconds_bucket{le="0.01"} 2
tlsreactor_proxy_handshake_seconds_bucket{le="0.025"} 2
tlsreactor_proxy_handshake_seconds_bucket{le="0.05"} 2
tlsreactor_proxy_handshake_seconds_bucket{le="0.1"} 2
tlsreactor_proxy_handshake_seconds_bucket{le="0.25"} 2
tlsreactor_proxy_handshake_seconds_bucket{le="0.5"} 2
tlsreactor_proxy_handshake_seconds_bucket{le="1"} 2
tlsreactor_proxy_handshake_seconds_bucket{le="2.5"} 2
tlsreactor_proxy_handshake_seconds_bucket{le="5"} 2
tlsreactor_proxy_handshake_seconds_bucket{le="10"} 2
tlsreactor_proxy_handshake_seconds_bucket{le="+Inf"} 2
tlsreactor_proxy_handshake_seconds_sum 0.004000
tlsreactor_proxy_handshake_seconds_count 2
# HELP tlsreactor_proxy_request_seconds Requests by time from their first byte to their end (a tunnel's: its close).
# TYPE tlsreactor_proxy_request_seconds histogram
tlsreactor_proxy_request_seconds_bucket{le="0.001"} 0
tlsreactor_proxy_request_seconds_bucket{le="0.0025"} 1
tlsreactor_proxy_request_seconds_bucket{le="0.005"} 1
tlsreactor_proxy_request_seconds_bucket{le="0.01"} 1
tlsreactor_proxy_request_seconds_bucket{le="0.025"} 1
tlsreactor_proxy_request_seconds_bucket{le="0.05"} 1
tlsreactor_proxy_request_seconds_bucket{le="0.1"} 1
tlsreactor_proxy_request_seconds_bucket{le="0.25"} 1
tlsreactor_proxy_request_seconds_bucket{le="0.5"} 1
tlsreactor_proxy_request_seconds_bucket{le="1"} 1
tlsreactor_proxy_request_seconds_bucket{le="2.5"} 1
tlsreactor_proxy_request_seconds_bucket{le="5"} 1
tlsreactor_proxy_request_seconds_bucket{le="10"} 1
tlsreactor_proxy_request_seconds_bucket{le="+Inf"} 2
tlsreactor_proxy_request_seconds_sum 11.001000
tlsreactor_proxy_request_seconds_count 2
# HELP tlsreactor_proxy_upstream_seconds Upstream exchanges by time from sending the request to the response's end.
# TYPE tlsreactor_proxy_upstream_seconds histogram
tlsreactor_proxy_upstream_seconds_bucket{le="0.001"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="0.0025"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="0.005"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="0.01"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="0.025"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="0.05"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="0.1"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="0.25"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="0.5"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="1"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="2.5"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="5"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="10"} 0
tlsreactor_proxy_upstream_seconds_bucket{le="+Inf"} 0
tlsreactor_proxy_upstream_seconds_sum 0.000000
tlsreactor_proxy_upstream_seconds_count 0
# HELP tlsreactor_proxy_upstream_up Whether an upstream is up (1) or marked down (0), by group and URL.
# TYPE tlsreactor_proxy_upstream_up gauge
tlsreactor_proxy_upstream_up{group="app",upstream="http://10.0.0.2:80"} 0
tlsreactor_proxy_upstream_up{group="app",upstream="http://10.0.0.3:80"} 1
# HELP tlsreactor_proxy_upstream_check_seconds How long the last active health check of an upstream took, by group and URL.
# TYPE tlsreactor_proxy_upstream_check_seconds gauge
tlsreactor_proxy_upstream_check_seconds{group="app",upstream="http://10.0.0.2:80"} 0.002500
# HELP tlsreactor_proxy_certificate_expiry_seconds Seconds until a served certificate expires (negative: expired).
# TYPE tlsreactor_proxy_certificate_expiry_seconds gauge
tlsreactor_proxy_certificate_expiry_seconds{file="/etc/tls/site.pem",subject="CN=example.test"} 86400
tlsreactor_proxy_certificate_expiry_seconds{file="/old.pem",subject="CN=old"} -1000
)";
  CHECK(text == expected);
}

TEST_CASE("certificate label values escape backslash, double quote and newline") {
  Metrics m;
  const std::vector<apps::proxy::CertificateExpiry> certs{
      {"C:\\certs\\a\"b\".pem", "CN=x\nO=\"Evil\\Corp\"", 10}};
  const std::string text = apps::proxy::render_prometheus(m, certs, 0);
  CHECK(text.find(R"(tlsreactor_proxy_certificate_expiry_seconds{file="C:\\certs\\a\"b\".pem",)"
                  R"(subject="CN=x\nO=\"Evil\\Corp\""} 10)") != std::string::npos);
}

TEST_CASE("read_certificate_expiry names the file when it cannot read it") {
  std::string error;
  CHECK_FALSE(apps::proxy::read_certificate_expiry("/nonexistent/tlsreactor.pem", error));
  CHECK(error == "load certificate /nonexistent/tlsreactor.pem: No such file or directory");
}

TEST_CASE("--admin takes loopback addresses only, with a reason for anything else") {
  std::string error;
  const auto v4 = apps::proxy::admin_address("127.0.0.1:9901", error);
  REQUIRE_MESSAGE(v4, error);
  CHECK(v4->to_string() == "127.0.0.1:9901");
  CHECK(apps::proxy::admin_address("[::1]:0", error));
  CHECK_FALSE(apps::proxy::admin_address("0.0.0.0:9901", error));
  CHECK(error ==
        "--admin 0.0.0.0:9901: not a loopback address: the admin endpoint has no "
        "authentication, so it binds to 127.0.0.0/8 or ::1 only");
  CHECK_FALSE(apps::proxy::admin_address("[::]:9901", error));
  CHECK(error.starts_with("--admin [::]:9901: not a loopback address"));
  CHECK_FALSE(apps::proxy::admin_address("9901", error));
  CHECK(error == "--admin 9901: expected HOST:PORT, e.g. 127.0.0.1:9901");
}
