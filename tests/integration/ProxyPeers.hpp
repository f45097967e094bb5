// What the tests of the tlsreactor-proxy binary run around it: peers/upstream_peer.py as an
// upstream, the proxy itself on an ephemeral port, and curl as its client.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/Peers.hpp"
#include "tests/support/TestDir.hpp"

namespace integration {

// peers/upstream_peer.py on an ephemeral port.
class Upstream {
 public:
  explicit Upstream(const std::string& name = "upstream")
      : process_(python_peer("upstream_peer.py", {"--name", name})) {
    auto line = process_.read_line(std::chrono::seconds(20));
    REQUIRE_MESSAGE(line.has_value(), "upstream did not start\n" << process_.transcript());
    std::smatch m;
    REQUIRE(std::regex_match(*line, m, std::regex(R"(upstream_peer: listening on (\S+))")));
    address_ = m[1];
  }
  std::string url() const { return "http://" + address_; }
  Process& process() { return process_; }

 private:
  Process process_;
  std::string address_;
};

// tlsreactor-proxy on an ephemeral port: TLS with its development certificate in `dir`/proxy,
// or --plain; no access log unless the options ask for one.
class ProxyServer : public AppServer {
 public:
  ProxyServer(const test_support::TestDir& dir, std::vector<std::string> options,
              bool plain = false)
      : AppServer(TLSREACTOR_PROXY_BIN, with_defaults(dir, std::move(options), plain),
                  "127.0.0.1:0", 1),
        plain_(plain) {}

  std::string url(const std::string& path) const {
    return std::string(plain_ ? "http" : "https") + "://127.0.0.1:" + port_text() + path;
  }

 private:
  static std::vector<std::string> with_defaults(const test_support::TestDir& dir,
                                                std::vector<std::string> options, bool plain) {
    // First, so that a test's own --access-log wins (the last value does).
    options.insert(options.begin(), {"--dev-cert-dir", dir.path("proxy"), "--access-log", "off"});
    if (plain) options.emplace_back("--plain");
    return options;
  }
  bool plain_;
};

// The port of the "tlsreactor-proxy: admin on ADDR" line a proxy started with --admin prints
// after its listening line.
inline std::string admin_port(ProxyServer& proxy) {
  const auto line = proxy.process().read_line(std::chrono::seconds(20));
  REQUIRE_MESSAGE(line.has_value(), proxy.process().transcript());
  std::smatch m;
  REQUIRE_MESSAGE(
      std::regex_match(*line, m, std::regex(R"(tlsreactor-proxy: admin on 127\.0\.0\.1:(\d+))")),
      *line);
  return m[1];
}

// curl with the given arguments (the proxy's dev certificate not checked); its stdout, after
// checking it exited 0.
inline std::string curl(std::vector<std::string> args) {
  std::vector<std::string> argv{"curl",       "--silent", "--show-error",
                                "--max-time", "30",       "--insecure"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process peer(std::move(argv));
  return output_of(peer, std::chrono::seconds(40));
}

// `size` bytes of a xorshift stream: not a pattern the transfer could reproduce by accident.
inline std::string write_noise(const test_support::TestDir& dir, const std::string& name,
                               std::uint64_t size) {
  const std::string file = dir.path(name);
  std::ofstream out(file, std::ios::binary);
  constexpr std::uint64_t kBlock = 1024 * 1024;  // written at a time
  std::vector<std::uint64_t> block(kBlock / sizeof(std::uint64_t));
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (std::uint64_t written = 0; written < size; written += kBlock) {
    for (auto& word : block) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      word = x;
    }
    out.write(reinterpret_cast<const char*>(block.data()),
              static_cast<std::streamsize>(std::min<std::uint64_t>(kBlock, size - written)));
  }
  REQUIRE(out.good());
  return file;
}

// The sha256 of a file as sha256sum prints it.
inline std::string sha256_of(const std::string& file) {
  Process sum({"sha256sum", file});
  const std::string out = output_of(sum);
  return out.substr(0, out.find(' '));
}

}  // namespace integration
