// bench-tls-rtt: the round trips of one established TLS connection, for the fairness benchmark
// (bench/fairness.sh), which runs it next to a handshake load against the same server loop.
//
// One keep-alive HTTPS connection (the hello app) or one echo connection (the echo app, with
// --echo): a small request, wait for the whole answer, pause --interval, repeat, for
// --duration seconds after the handshake. A round trip longer than the interval stands for the
// requests a steady sender would have sent meanwhile, so it is also recorded as each of those
// (as wrk2 and HdrHistogram correct for coordinated omission): a stall counts for its length,
// not once. Prints p50/p99/max of the round trips in ms. Loopback targets only.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/Args.hpp"
#include "reactor/Loop.hpp"
#include "reactor/Timer.hpp"
#include "tls/Context.hpp"
#include "tls/TlsTransport.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Result {
  std::vector<double> rtt_ms;
  bool failed = false;
};

struct Settings {
  bool echo = false;
  std::chrono::milliseconds interval{2};
  std::chrono::milliseconds duration{10000};
};

// Where the answer to one request ends: the echo's length, or an HTTP head and its
// Content-Length body. 0 while unknown.
std::size_t answer_size(const std::string& got, bool echo, std::size_t request_size) {
  if (echo) return request_size;
  const auto head_end = got.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  std::string head = got.substr(0, head_end);
  std::transform(head.begin(), head.end(), head.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto at = head.find("\r\ncontent-length:");
  const std::size_t length =
      at == std::string::npos ? 0 : std::strtoull(head.c_str() + at + 17, nullptr, 10);
  return head_end + 4 + length;
}

class Pinger final : public reactor::Handler {
 public:
  Pinger(const Settings& settings, Result& result) : settings_(settings), result_(result) {}

  void on_open(reactor::Connection& c) override {
    conn_ = &c;
    pause_.emplace(c.loop());
    until_ = Clock::now() + settings_.duration;
    send();
  }
  void on_data(reactor::Connection& c, std::span<const std::byte> d) override {
    got_.append(reinterpret_cast<const char*>(d.data()), d.size());
    const std::size_t size = answer_size(got_, settings_.echo, request().size());
    if (size == 0 || got_.size() < size) return;
    got_.erase(0, size);
    record(std::chrono::duration<double, std::milli>(Clock::now() - sent_).count());
    if (Clock::now() >= until_) return c.close();
    pause_->start(settings_.interval, 0ms, [this] { send(); });
  }
  void on_close(reactor::Connection&, const reactor::Error& e) override {
    conn_ = nullptr;
    pause_.reset();
    if (e) std::fprintf(stderr, "bench-tls-rtt: %s\n", e.message().c_str());
    result_.failed = static_cast<bool>(e);
  }

 private:
  std::string_view request() const {
    return settings_.echo ? "0123456789abcdef0123456789abcdef"
                          : "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  }
  void send() {
    if (conn_ == nullptr) return;
    sent_ = Clock::now();
    conn_->write(request());
  }
  void record(double ms) {
    const double step = std::chrono::duration<double, std::milli>(settings_.interval).count();
    for (double missed = ms; missed > 0; missed -= step) result_.rtt_ms.push_back(missed);
  }

  const Settings& settings_;
  Result& result_;
  reactor::Connection* conn_ = nullptr;
  std::optional<reactor::Timer> pause_;
  Clock::time_point sent_;
  Clock::time_point until_;
  std::string got_;
};

double at(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size()));
  return sorted[std::min(rank, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  apps::Args args(
      "bench-tls-rtt",
      "Round trips of one established TLS connection (keep-alive GET /, or --echo), p50/p99/max.",
      {
          {"connect", "HOST:PORT", "the server (loopback)", ""},
          {"ca", "FILE", "verify the server against this CA", ""},
          {"echo", "", "echo 32 bytes instead of GET / (the echo app)", ""},
          {"interval", "SECONDS", "pause between an answer and the next request", "0.002"},
          {"duration", "SECONDS", "how long to measure, after the handshake", "10"},
          {"json", "", "print one JSON object", ""},
      });
  if (!args.parse(argc, argv)) return args.exit_code();
  const auto target = args.host_port("connect");
  const auto interval = args.seconds("interval");
  const auto duration = args.seconds("duration");
  if (!target || !interval || !duration) return 2;
  if (target->host != "localhost" && target->host.rfind("127.", 0) != 0 && target->host != "::1") {
    args.complain("connect", "loopback targets only");
    return 2;
  }
  Settings settings{args.flag("echo"), std::max(*interval, 1ms), *duration};

  tls::ClientConfig config;
  config.ca_file = args.get("ca");
  config.verify = !config.ca_file.empty();
  const auto made = tls::Context::client(config);
  if (!made) {
    std::fprintf(stderr, "bench-tls-rtt: %s\n", made.error().message().c_str());
    return 1;
  }
  const std::shared_ptr<const tls::Context> context = *made;
  Result result;
  reactor::Loop loop;
  tls::connect(loop, *target, context, std::make_unique<Pinger>(settings, result));
  loop.run();
  loop.close();
  auto& rtt_ms = result.rtt_ms;
  if (result.failed || rtt_ms.empty()) return 1;

  std::sort(rtt_ms.begin(), rtt_ms.end());
  std::printf(args.flag("json")
                  ? "{\"samples\": %zu, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f}\n"
                  : "samples %zu p50 %.3f ms p99 %.3f ms max %.3f ms\n",
              rtt_ms.size(), at(rtt_ms, 0.50), at(rtt_ms, 0.99), rtt_ms.back());
  return 0;
}
