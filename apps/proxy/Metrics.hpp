// The proxy's process-wide counters, rendered as Prometheus text by the admin listener.
// Relaxed atomics: every counter stands alone and a scrape needs no consistent snapshot, so
// the request path pays one uncontended increment per event and no lock.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace apps::proxy {

// One upstream's health as its set reports it (UpstreamHealth), for the upstream_up gauge.
struct UpstreamGauge {
  std::string group;
  std::string upstream;
  bool up = true;
  std::int64_t check_us = -1;  // the last active check's time; -1: not checked
};

struct Metrics {
  // Why a client's TLS handshake failed (the label of handshakes_failed).
  enum class HandshakeFailure : std::size_t { timeout, protocol, peer_closed, other, count };
  // What went wrong talking to an upstream (the label of upstream_errors).
  enum class UpstreamError : std::size_t {
    refused,           // connect refused or unreachable
    connect_timeout,   // --connect-timeout passed
    response_timeout,  // --response-timeout passed (504)
    tls,               // the upstream's TLS handshake or verification failed
    protocol,          // an unparsable or truncated response
    closed,            // the upstream closed or reset before the response was complete
    count
  };

  // What a tunnel carries (the label of tunnels_total).
  enum class TunnelKind : std::size_t { websocket, connect, count };
  // The HTTP a request came over (the label of requests_by_protocol).
  enum class Protocol : std::size_t { http1, http2, count };

  using Counter = std::atomic<std::uint64_t>;

  // A latency distribution over fixed bucket bounds (Prometheus' "histogram"). Each bucket
  // counts only its own range; the exposition makes them cumulative, so observing stays one
  // relaxed increment of one bucket plus one of the sum, from any thread.
  struct Histogram {
    // The upper bounds ("le"), from 1 ms to 10 s; a last bucket takes the rest (+Inf).
    static constexpr std::array<std::chrono::nanoseconds, 13> bounds{
        std::chrono::microseconds(1000),
        std::chrono::microseconds(2500),
        std::chrono::microseconds(5000),
        std::chrono::microseconds(10000),
        std::chrono::microseconds(25000),
        std::chrono::microseconds(50000),
        std::chrono::microseconds(100000),
        std::chrono::microseconds(250000),
        std::chrono::microseconds(500000),
        std::chrono::seconds(1),
        std::chrono::microseconds(2500000),
        std::chrono::seconds(5),
        std::chrono::seconds(10)};
    std::array<Counter, bounds.size() + 1> buckets{};  // [i]: bounds[i-1] < t <= bounds[i]
    Counter sum_ns{0};

    void observe(std::chrono::nanoseconds elapsed) {
      // The first bound not below `elapsed`: "le" is inclusive.
      const auto bucket = std::lower_bound(bounds.begin(), bounds.end(), elapsed) - bounds.begin();
      add(buckets[static_cast<std::size_t>(bucket)]);
      add(sum_ns, static_cast<std::uint64_t>(std::max(elapsed.count(), std::int64_t{0})));
    }
  };

  Counter connections_active{0};
  Counter connections_total{0};
  Counter handshakes_ok{0};
  std::array<Counter, static_cast<std::size_t>(HandshakeFailure::count)> handshakes_failed{};
  Counter resumptions{0};
  std::array<Counter, 6> requests_by_class{};  // [status / 100]; [0] counts unanswered requests
  std::array<Counter, static_cast<std::size_t>(Protocol::count)> requests_by_protocol{};
  std::array<Counter, static_cast<std::size_t>(UpstreamError::count)> upstream_errors{};
  Counter bytes_in{0};                  // from clients (plaintext)
  Counter bytes_out{0};                 // to clients (plaintext)
  Counter upstream_retries{0};          // requests moved to another member (UpstreamRoute)
  Counter upstream_retries_refused{0};  // retries the group's retry budget did not allow
  Counter tunnels_active{0};            // relaying now (a 101 or a CONNECT's 200 went out)
  std::array<Counter, static_cast<std::size_t>(TunnelKind::count)> tunnels_total{};
  Histogram handshake_seconds;  // client TLS handshakes that completed (TCP open to TLS open)
  Histogram request_seconds;    // first byte of a request to its end (a tunnel's: its close)
  Histogram upstream_seconds;   // request sent upstream to the response's end (or tunnel open)

  static void add(Counter& counter, std::uint64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  void count_request(int status, Protocol protocol) {
    add(requests_by_class[status >= 100 && status < 600 ? static_cast<std::size_t>(status / 100)
                                                        : 0]);
    add(requests_by_protocol[static_cast<std::size_t>(protocol)]);
  }
  void count(HandshakeFailure why) { add(handshakes_failed[static_cast<std::size_t>(why)]); }
  void count(UpstreamError why) { add(upstream_errors[static_cast<std::size_t>(why)]); }
  // A tunnel begins relaying / has ended (each begun one ends once).
  void tunnel_opened(TunnelKind kind) {
    add(tunnels_total[static_cast<std::size_t>(kind)]);
    add(tunnels_active);
  }
  void tunnel_closed() { tunnels_active.fetch_sub(1, std::memory_order_relaxed); }

  // The upstream set in use reports its health through `source` (each new set, a reload's
  // too, replaces the one before); a scrape calls it. Any thread.
  void set_upstream_source(std::function<std::vector<UpstreamGauge>()> source) {
    const std::lock_guard lock(upstream_mutex_);
    upstream_source_ = std::move(source);
  }
  std::vector<UpstreamGauge> upstream_gauges() const {
    const std::lock_guard lock(upstream_mutex_);
    return upstream_source_ ? upstream_source_() : std::vector<UpstreamGauge>{};
  }

 private:
  mutable std::mutex upstream_mutex_;  // a scrape against a reload, never the request path
  std::function<std::vector<UpstreamGauge>()> upstream_source_;
};

// A served certificate and when it expires, for the expiry gauge.
struct CertificateExpiry {
  std::string file;
  std::string subject;  // RFC 2253: "CN=localhost"
  std::int64_t not_after_unix = 0;
};

// Reads the leaf (first certificate) of a PEM chain file, as served with --cert. nullopt with
// `error` set ("load certificate /c.pem: No such file or directory") when it cannot. Blocking
// file I/O: call it at start-up and on reload, not per scrape. Thread-safe.
std::optional<CertificateExpiry> read_certificate_expiry(const std::string& file,
                                                         std::string& error);

// The Prometheus text exposition (version 0.0.4: "# HELP"/"# TYPE" lines, then samples) of
// `metrics` (the histograms as _bucket{le=...} cumulative, _sum in seconds and _count), plus
// tlsreactor_proxy_certificate_expiry_seconds{file,subject} = not_after_unix -
// now_unix (negative once expired). Every metric name starts tlsreactor_proxy_; label values
// are escaped as the format wants (\, \", \n). Reads the counters with relaxed loads, so it
// may run on any thread while the request path counts.
std::string render_prometheus(const Metrics& metrics, const std::vector<CertificateExpiry>& certs,
                              std::int64_t now_unix);

// The label values used for Metrics' arrays, in index order (shared with tests and docs).
const char* label(Metrics::HandshakeFailure why) noexcept;
const char* label(Metrics::UpstreamError why) noexcept;
const char* label(Metrics::TunnelKind kind) noexcept;
const char* label(Metrics::Protocol protocol) noexcept;

}  // namespace apps::proxy
