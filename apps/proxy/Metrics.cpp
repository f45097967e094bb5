#include "apps/proxy/Metrics.hpp"

#include <array>
#include <string_view>

#include "tls/CertificateInfo.hpp"

namespace apps::proxy {
namespace {

constexpr std::string_view prefix = "tlsreactor_proxy_";

constexpr std::array<const char*, static_cast<std::size_t>(Metrics::HandshakeFailure::count)>
    handshake_failure_labels{"timeout", "protocol", "peer_closed", "other"};
constexpr std::array<const char*, static_cast<std::size_t>(Metrics::UpstreamError::count)>
    upstream_error_labels{"refused", "connect_timeout", "response_timeout",
                          "tls",     "protocol",        "closed"};
constexpr std::array<const char*, static_cast<std::size_t>(Metrics::TunnelKind::count)>
    tunnel_kind_labels{"websocket", "connect"};
constexpr std::array<const char*, static_cast<std::size_t>(Metrics::Protocol::count)>
    protocol_labels{"HTTP/1.1", "HTTP/2"};
// requests_by_class[0] counts requests that got no response at all.
constexpr std::array<const char*, 6> request_class_labels{"none", "1xx", "2xx",
                                                          "3xx",  "4xx", "5xx"};
// Metrics::Histogram::bounds as "le" values, then the last bucket's.
constexpr std::array<const char*, Metrics::Histogram::bounds.size() + 1> bucket_labels{
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",  "0.5",    "1",     "2.5",  "5",     "10",   "+Inf"};

std::uint64_t read(const Metrics::Counter& counter) {
  return counter.load(std::memory_order_relaxed);
}

// A label value inside double quotes: backslash, double quote and newline are escaped.
std::string escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

class Exposition {
 public:
  // The HELP and TYPE lines of one metric family.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    text_.append("# HELP ").append(prefix).append(name).append(" ").append(help).append("\n");
    text_.append("# TYPE ").append(prefix).append(name).append(" ").append(type).append("\n");
  }
  // One sample; `labels` is already formatted ("" or `a="b",c="d"`).
  template <typename Value>
  void sample(std::string_view name, std::string_view labels, Value value) {
    text_.append(prefix).append(name);
    if (!labels.empty()) text_.append("{").append(labels).append("}");
    text_.append(" ").append(std::to_string(value)).append("\n");
  }
  template <std::size_t N>
  void labelled(std::string_view name, std::string_view key,
                const std::array<const char*, N>& labels,
                const std::array<Metrics::Counter, N>& counters) {
    for (std::size_t i = 0; i < N; ++i)
      sample(name, std::string(key) + "=\"" + labels[i] + "\"", read(counters[i]));
  }
  // A histogram's samples: cumulative buckets, the sum in seconds, the count (= the +Inf
  // bucket). Each bucket is read once, so the buckets and the count always agree.
  void histogram(std::string_view name, const Metrics::Histogram& histogram) {
    const std::string base(name);
    std::uint64_t below = 0;
    for (std::size_t i = 0; i < bucket_labels.size(); ++i) {
      below += read(histogram.buckets[i]);
      sample(base + "_bucket", std::string("le=\"") + bucket_labels[i] + "\"", below);
    }
    sample(base + "_sum", "", static_cast<double>(read(histogram.sum_ns)) / 1e9);
    sample(base + "_count", "", below);
  }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace

const char* label(Metrics::HandshakeFailure why) noexcept {
  return handshake_failure_labels[static_cast<std::size_t>(why)];
}

const char* label(Metrics::UpstreamError why) noexcept {
  return upstream_error_labels[static_cast<std::size_t>(why)];
}

const char* label(Metrics::TunnelKind kind) noexcept {
  return tunnel_kind_labels[static_cast<std::size_t>(kind)];
}

const char* label(Metrics::Protocol protocol) noexcept {
  return protocol_labels[static_cast<std::size_t>(protocol)];
}

std::optional<CertificateExpiry> read_certificate_expiry(const std::string& file,
                                                         std::string& error) {
  const auto info = tls::read_certificate_info(file);
  if (!info) {
    error = info.error().detail();
    return std::nullopt;
  }
  return CertificateExpiry{file, info->subject, info->not_after_unix};
}

std::string render_prometheus(const Metrics& m, const std::vector<CertificateExpiry>& certs,
                              std::int64_t now_unix) {
  Exposition out;
  out.family("connections_active", "gauge", "Client connections open now.");
  out.sample("connections_active", "", read(m.connections_active));
  out.family("connections_total", "counter", "Client connections accepted.");
  out.sample("connections_total", "", read(m.connections_total));
  out.family("handshakes_total", "counter", "Client TLS handshakes completed.");
  out.sample("handshakes_total", "result=\"ok\"", read(m.handshakes_ok));
  out.family("handshakes_failed_total", "counter", "Client TLS handshakes failed, by reason.");
  out.labelled("handshakes_failed_total", "reason", handshake_failure_labels, m.handshakes_failed);
  out.family("resumptions_total", "counter", "Client TLS handshakes that resumed a session.");
  out.sample("resumptions_total", "", read(m.resumptions));
  out.family("requests_total", "counter",
             "Requests by response status class (none: the client got no response).");
  out.labelled("requests_total", "class", request_class_labels, m.requests_by_class);
  out.family("requests_by_protocol_total", "counter",
             "Requests by the HTTP their client spoke (HTTP/1.0 counts as HTTP/1.1).");
  out.labelled("requests_by_protocol_total", "protocol", protocol_labels, m.requests_by_protocol);
  out.family("upstream_errors_total", "counter", "Failures talking to upstreams, by kind.");
  out.labelled("upstream_errors_total", "kind", upstream_error_labels, m.upstream_errors);
  out.family("upstream_retries_total", "counter",
             "Requests moved to another upstream after a failed connect or a reset.");
  out.sample("upstream_retries_total", "", read(m.upstream_retries));
  out.family("upstream_retries_refused_total", "counter",
             "Retries not made because the group's retry budget was spent.");
  out.sample("upstream_retries_refused_total", "", read(m.upstream_retries_refused));
  out.family("bytes_in_total", "counter", "Plaintext bytes received from clients.");
  out.sample("bytes_in_total", "", read(m.bytes_in));
  out.family("bytes_out_total", "counter", "Plaintext bytes sent to clients.");
  out.sample("bytes_out_total", "", read(m.bytes_out));
  out.family("tunnels_active", "gauge", "WebSocket and CONNECT tunnels relaying now.");
  out.sample("tunnels_active", "", read(m.tunnels_active));
  out.family("tunnels_total", "counter", "Tunnels that began relaying, by kind.");
  out.labelled("tunnels_total", "kind", tunnel_kind_labels, m.tunnels_total);
  out.family("handshake_seconds", "histogram",
             "Client TLS handshakes that completed, by time from TCP open to TLS open.");
  out.histogram("handshake_seconds", m.handshake_seconds);
  out.family("request_seconds", "histogram",
             "Requests by time from their first byte to their end (a tunnel's: its close).");
  out.histogram("request_seconds", m.request_seconds);
  out.family("upstream_seconds", "histogram",
             "Upstream exchanges by time from sending the request to the response's end.");
  out.histogram("upstream_seconds", m.upstream_seconds);
  const std::vector<UpstreamGauge> upstreams = m.upstream_gauges();
  const auto upstream_labels = [](const UpstreamGauge& g) {
    return "group=\"" + escape(g.group) + "\",upstream=\"" + escape(g.upstream) + "\"";
  };
  out.family("upstream_up", "gauge",
             "Whether an upstream is up (1) or marked down (0), by group and URL.");
  for (const UpstreamGauge& g : upstreams)
    out.sample("upstream_up", upstream_labels(g), g.up ? 1 : 0);
  out.family("upstream_check_seconds", "gauge",
             "How long the last active health check of an upstream took, by group and URL.");
  for (const UpstreamGauge& g : upstreams)
    if (g.check_us >= 0)
      out.sample("upstream_check_seconds", upstream_labels(g),
                 static_cast<double>(g.check_us) / 1e6);
  out.family("certificate_expiry_seconds", "gauge",
             "Seconds until a served certificate expires (negative: expired).");
  for (const CertificateExpiry& cert : certs)
    out.sample("certificate_expiry_seconds",
               "file=\"" + escape(cert.file) + "\",subject=\"" + escape(cert.subject) + "\"",
               cert.not_after_unix - now_unix);
  return out.take();
}

}  // namespace apps::proxy
