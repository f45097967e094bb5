// bench-tls-load: the TLS load client the benchmarks use for new-connection workloads (full or
// resumed handshakes, one request each) and for idle-connection memory (hold N connections).
// One thread, non-blocking sockets, epoll, OpenSSL over the sockets directly: cheap per
// handshake on the client side and a few bytes per held connection. Loopback targets only.
#include <sys/resource.h>

#include <algorithm>
#include <cinttypes>
#include <csignal>
#include <cstdio>

#include "bench/tls_load/FdLimit.hpp"
#include "bench/tls_load/HandshakeLoad.hpp"
#include "bench/tls_load/HoldLoad.hpp"

namespace {

using namespace bench::tls_load;

double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Nearest-rank percentile of `samples` (reordered); 0 when empty.
double percentile(std::vector<float>& samples, double q) {
  if (samples.empty()) return 0;
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(samples.size()));
  const auto at = samples.begin() + static_cast<std::ptrdiff_t>(std::min(rank, samples.size() - 1));
  std::nth_element(samples.begin(), at, samples.end());
  return *at;
}

void warn_about_sessions(const Options& options, const HandshakeResult& r) {
  if (!options.resume) {
    if (r.resumed != 0)
      std::fprintf(stderr,
                   "bench-tls-load: warning: %" PRIu64
                   " handshakes resumed although no session was offered\n",
                   r.resumed);
    return;
  }
  // The first connections start before any ticket has arrived; every later one should resume.
  const std::uint64_t first = std::min(options.connections, options.requests);
  if (r.offered_but_full > 0 || r.full > first)
    std::fprintf(stderr,
                 "bench-tls-load: warning: --resume, yet %" PRIu64 " full handshakes (%" PRIu64
                 " of %" PRIu64
                 " connections that offered a session were not resumed; "
                 "expected at most %" PRIu64 " full, the first connections)\n",
                 r.full, r.offered_but_full, r.offered, first);
}

void report_handshake(const Options& options, HandshakeResult r, std::uint64_t errors, double cpu) {
  const double rate = r.seconds > 0 ? static_cast<double>(r.requests) / r.seconds : 0;
  const double p50 = percentile(r.latency_ms, 0.50);
  const double p99 = percentile(r.latency_ms, 0.99);
  const char* format =
      options.json ? "{\"requests\": %" PRIu64 ", \"full\": %" PRIu64 ", \"resumed\": %" PRIu64
                     ", \"errors\": %" PRIu64
                     ", \"seconds\": %.3f, \"rate\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
                     "\"client_cpu_s\": %.3f}\n"
                   : "requests %" PRIu64 " full %" PRIu64 " resumed %" PRIu64 " errors %" PRIu64
                     " seconds %.3f rate %.1f/s p50 %.3f ms p99 %.3f ms client_cpu %.3f s\n";
  std::printf(format, r.requests, r.full, r.resumed, errors, r.seconds, rate, p50, p99, cpu);
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  const auto options = parse_options(argc, argv, exit_code);
  if (!options) return exit_code;
  // A peer that resets a connection must not kill the client through a write.
  std::signal(SIGPIPE, SIG_IGN);
  std::string error;
  const std::uint64_t window =
      options->mode == Mode::hold ? hold_window : std::min(options->connections, options->requests);
  const std::uint64_t needed_fds =
      (options->mode == Mode::hold ? options->connections + window : window) + 32;
  if (!ensure_fd_limit(needed_fds, error)) {
    std::fprintf(stderr, "bench-tls-load: %s\n", error.c_str());
    return 1;
  }
  ClientTls tls(*options, error);
  if (tls.context() == nullptr) {
    std::fprintf(stderr, "bench-tls-load: %s\n", error.c_str());
    return 2;
  }
  Poller poller(error);
  if (!poller.ok()) {
    std::fprintf(stderr, "bench-tls-load: %s\n", error.c_str());
    return 1;
  }
  ErrorLog errors;
  const double cpu_before = cpu_seconds();
  if (options->mode == Mode::handshake) {
    auto result = run_handshake(*options, tls, poller, errors);
    errors.print_summary();
    warn_about_sessions(*options, result);
    const std::uint64_t completed = result.requests;
    report_handshake(*options, std::move(result), errors.count(), cpu_seconds() - cpu_before);
    if (completed == 0) {
      std::fprintf(stderr, "bench-tls-load: no request completed\n");
      return 1;
    }
    return 0;
  }
  const auto result = run_hold(*options, tls, poller, errors);
  errors.print_summary();
  if (result.closed_while_idle > 0)
    std::fprintf(stderr, "bench-tls-load: the server closed %" PRIu64 " idle connections\n",
                 result.closed_while_idle);
  std::printf(options->json ? "{\"connections\": %" PRIu64 ", \"errors\": %" PRIu64
                              ", \"seconds_to_ready\": %.3f}\n"
                            : "connections %" PRIu64 " errors %" PRIu64 " seconds_to_ready %.3f\n",
              result.connections, errors.count(), result.seconds_to_ready);
  if (!result.ready) {
    std::fprintf(stderr, "bench-tls-load: only %" PRIu64 " of %u connections were established\n",
                 result.connections, options->connections);
    return 1;
  }
  return 0;
}
