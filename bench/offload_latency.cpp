// Benchmark (not a test): what a stream of RSA-4096 full handshakes does to the round trips of
// connections already established on the same server loop, with the private-key operation on
// the loop ("inline") and on worker threads ("offload", SSL_ERROR_WANT_ASYNC).
//
// One server loop (TLS echo, RSA-4096 certificate). A probe loop keeps 8 established TLS
// connections and measures echo round trips of 32-byte messages; a load loop keeps 4 new
// handshakes in flight (no resumption: every one is a full handshake and an RSA signature).
// Loopback only, bounded in time. Usage: bench-offload-latency [SECONDS per mode, default 4]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "apps/echo/EchoHandler.hpp"
#include "reactor/Loop.hpp"
#include "reactor/TcpListener.hpp"
#include "reactor/Timer.hpp"
#include "tls/DevCert.hpp"
#include "tls/TlsTransport.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<const tls::Context> must(
    reactor::Result<std::shared_ptr<const tls::Context>> made) {
  if (!made) {
    std::fprintf(stderr, "bench: %s\n", made.error().message().c_str());
    std::exit(1);
  }
  return *made;
}

// An established connection that pings, waits for the echo, records the round trip, repeats.
class Probe final : public reactor::Handler {
 public:
  explicit Probe(std::vector<double>& samples, const std::atomic<bool>& recording)
      : samples_(samples), recording_(recording) {}
  void on_open(reactor::Connection& c) override { ping(c); }
  void on_data(reactor::Connection& c, std::span<const std::byte> d) override {
    received_ += d.size();
    if (received_ < message.size()) return;
    received_ = 0;
    if (recording_)
      samples_.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent_).count());
    ping(c);
  }
  void on_close(reactor::Connection&, const reactor::Error& e) override {
    if (e && e.code() != reactor::Errc::loop_closed)
      std::fprintf(stderr, "bench: probe closed: %s\n", e.message().c_str());
  }

 private:
  void ping(reactor::Connection& c) {
    sent_ = Clock::now();
    c.write(message);
  }
  static constexpr std::string_view message = "0123456789abcdef0123456789abcdef";
  std::vector<double>& samples_;
  const std::atomic<bool>& recording_;
  Clock::time_point sent_;
  std::size_t received_ = 0;
};

// A new connection whose whole job is its full handshake; it closes once open.
class Handshake final : public reactor::Handler {
 public:
  explicit Handshake(std::function<void(bool)> done) : done_(std::move(done)) {}
  void on_data(reactor::Connection&, std::span<const std::byte>) override {}
  void on_open(reactor::Connection& c) override {
    ok_ = true;
    c.close();
  }
  void on_close(reactor::Connection&, const reactor::Error&) override { done_(ok_); }

 private:
  std::function<void(bool)> done_;
  bool ok_ = false;
};

struct Result {
  double p50, p99, max;
  std::size_t samples;
  double handshakes_per_s;
};

Result run(bool offload, const tls::dev::Files& files, double seconds) {
  tls::ServerConfig sc;
  sc.certificates = {files.leaf};
  sc.offload_private_key = offload;
  auto server_ctx = must(tls::Context::server(sc));
  tls::ClientConfig cc;
  cc.ca_file = files.ca_file;
  cc.session_resumption = false;  // every load connection is a full handshake
  auto client_ctx = must(tls::Context::client(cc));

  reactor::Loop server_loop;
  reactor::TcpListener listener(server_loop,
                                tls::server_factory(server_ctx, apps::echo::echo_factory()));
  if (reactor::Error e = listener.listen(*reactor::Address::from_ip("127.0.0.1", 0))) {
    std::fprintf(stderr, "bench: %s\n", e.message().c_str());
    std::exit(1);
  }
  const reactor::HostPort target{"localhost", listener.local_address().port()};
  // Each loop runs, and is closed, on its own thread.
  std::thread server([&] {
    server_loop.run();
    server_loop.close();
  });

  std::atomic<bool> recording{false};
  std::atomic<bool> stopping{false};
  std::vector<double> samples;
  std::atomic<std::size_t> handshakes{0};

  reactor::Loop probe_loop;
  for (int i = 0; i < 8; ++i)
    tls::connect(probe_loop, target, client_ctx, std::make_unique<Probe>(samples, recording));
  reactor::Timer probe_stop(probe_loop);
  probe_stop.start(10ms, 10ms, [&] {
    if (stopping) probe_loop.stop();
  });
  std::thread probes([&] {
    probe_loop.run();
    probe_loop.close();
  });

  reactor::Loop load_loop;
  std::function<void()> start_one = [&] {
    tls::connect(load_loop, target, client_ctx, std::make_unique<Handshake>([&](bool ok) {
                   if (ok && recording) ++handshakes;
                   if (!stopping) start_one();
                 }));
  };
  for (int i = 0; i < 4; ++i) start_one();
  reactor::Timer load_stop(load_loop);
  load_stop.start(10ms, 10ms, [&] {
    if (stopping) load_loop.stop();
  });
  std::thread load([&] {
    load_loop.run();
    load_loop.close();
  });

  std::this_thread::sleep_for(1s);  // warm-up: connections established, pools started
  recording = true;
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  recording = false;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stopping = true;
  probes.join();
  load.join();
  server_loop.post([&] { server_loop.stop(); });
  server.join();

  std::sort(samples.begin(), samples.end());
  const auto at = [&](double q) {
    return samples.empty()
               ? 0.0
               : samples[std::min(
                     samples.size() - 1,
                     static_cast<std::size_t>(q * static_cast<double>(samples.size())))];
  };
  return {at(0.50), at(0.99), samples.empty() ? 0.0 : samples.back(), samples.size(),
          static_cast<double>(handshakes) / elapsed};
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 4.0;
  if (seconds <= 0 || seconds > 60) {
    std::fprintf(stderr, "usage: bench-offload-latency [SECONDS per mode, 0 < s <= 60]\n");
    return 2;
  }
  std::string dir = "/tmp/tlsreactor-bench-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) return 1;
  const auto written =
      tls::dev::write(tls::dev::generate({"localhost"}, tls::dev::KeyType::rsa_4096), dir);
  if (!written) {
    std::fprintf(stderr, "bench: %s\n", written.error().message().c_str());
    return 1;
  }
  const tls::dev::Files& files = *written;
  std::printf(
      "RSA-4096 full handshakes (4 in flight, no resumption) against 8 established echo\n"
      "connections on the same server loop; %.0f s per mode; %u cores\n\n",
      seconds, std::thread::hardware_concurrency());
  std::printf("%-8s %14s %10s %10s %10s %9s\n", "mode", "handshakes/s", "echo p50", "echo p99",
              "echo max", "samples");
  for (const bool offload : {false, true}) {
    const Result r = run(offload, files, seconds);
    std::printf("%-8s %14.0f %8.2fms %8.2fms %8.2fms %9zu\n", offload ? "offload" : "inline",
                r.handshakes_per_s, r.p50, r.p99, r.max, r.samples);
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
