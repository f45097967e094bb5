// tlsreactor-proxy's CONNECT tunnels against curl (an HTTPS proxy client) and our HTTPS
// responder as the destination.
#include <doctest/doctest.h>

#include "tests/integration/Peers.hpp"
#include "tests/support/TestDir.hpp"

using integration::AppServer;
using integration::HelloServer;
using integration::output_of;
using integration::Process;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct Setup {
  explicit Setup(const test_support::TestDir& dir, const std::string& allow_extra = "")
      : upstream({"--tls", "--dev-cert-dir", dir.path("upstream")}),
        proxy(TLSREACTOR_PROXY_BIN,
              {"--dev-cert-dir", dir.path("proxy"), "--connect-timeout", "3", "--allow-connect",
               "localhost:" + upstream.port_text() + allow_extra},
              "127.0.0.1:0", 1),
        upstream_ca(dir.path("upstream/ca.pem")) {}

  // curl through the proxy (whose dev certificate it does not check) to `url`, verifying the
  // destination against its CA end to end. `--noproxy ""` overrides a NO_PROXY/no_proxy
  // inherited from the environment, which would send curl to localhost around the proxy.
  std::vector<std::string> curl_argv(const std::string& url, std::vector<std::string> extra) const {
    std::vector<std::string> argv{"curl",
                                  "--silent",
                                  "--show-error",
                                  "--max-time",
                                  "60",
                                  "--noproxy",
                                  "",
                                  "--proxy",
                                  "https://127.0.0.1:" + proxy.port_text(),
                                  "--proxy-insecure",
                                  "--cacert",
                                  upstream_ca};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url);
    return argv;
  }
  std::string curl(const std::string& url, std::vector<std::string> extra = {}) {
    Process peer(curl_argv(url, std::move(extra)));
    return output_of(peer, std::chrono::seconds(65));
  }
  // For a curl that must fail: its exit status and everything it printed.
  std::pair<int, std::string> failing_curl(const std::string& url) {
    Process peer(curl_argv(url, {"--insecure"}));
    const int code = integration::finish(peer, std::chrono::seconds(65));
    return {code, peer.transcript()};
  }

  // The proxy's next access-log line (its stdout), written when a tunnel ends: the request
  // went through the proxy as a CONNECT to `destination` answered 200, not around it.
  void check_tunnelled(const std::string& destination) {
    const auto line = proxy.process().read_line(std::chrono::seconds(20));
    REQUIRE_MESSAGE(line.has_value(), proxy.process().transcript());
    CHECK_MESSAGE(has(*line, "\"CONNECT " + destination + "\" 200 "), *line);
  }

  HelloServer upstream;
  AppServer proxy;
  std::string upstream_ca;
};

}  // namespace

TEST_CASE(
    "curl fetches through a CONNECT tunnel to an allowed HTTPS destination, verifying it end to end") {
  test_support::TestDir dir;
  Setup s(dir);
  const std::string base = "https://localhost:" + s.upstream.port_text();
  const std::string destination = "localhost:" + s.upstream.port_text();
  CHECK(s.curl(base + "/") == "hello from tlsreactor\n");
  s.check_tunnelled(destination);
  const auto file = dir.path("download");
  CHECK(s.curl(base + "/bytes/67108864", {"--output", file, "--write-out",
                                          "%{http_code} %{size_download}\n"}) == "200 67108864\n");
  s.check_tunnelled(destination);
  auto verify = integration::python_peer("http_peer.py",
                                         {"verify-file", "--file", file, "--bytes", "67108864"});
  integration::check_peer_succeeds(verify);
  s.proxy.stop();
  s.upstream.stop();
}

TEST_CASE("a CONNECT outside the allow-list gets 403 and one to a closed port gets 502") {
  test_support::TestDir dir;
  const auto closed = integration::closed_port();
  Setup s(dir, ",127.0.0.1:" + std::to_string(closed));
  const auto [forbidden_code, forbidden] =
      s.failing_curl("https://127.0.0.1:" + s.upstream.port_text() + "/");
  CHECK(forbidden_code == 56);  // curl: failure receiving network data (the proxy's answer)
  CHECK_MESSAGE(has(forbidden, "CONNECT tunnel failed, response 403"), forbidden);
  const auto [refused_code, refused] =
      s.failing_curl("https://127.0.0.1:" + std::to_string(closed) + "/");
  CHECK(refused_code == 56);
  CHECK_MESSAGE(has(refused, "CONNECT tunnel failed, response 502"), refused);
  s.proxy.stop();
  s.upstream.stop();
}

TEST_CASE("a plain request to a proxy without upstreams gets 503 with the reason, not a hang") {
  test_support::TestDir dir;
  Setup s(dir);
  Process peer({"curl", "--silent", "--show-error", "--max-time", "20", "--insecure", "--write-out",
                "%{http_code}\n", "https://127.0.0.1:" + s.proxy.port_text() + "/"});
  const auto out = output_of(peer);
  CHECK_MESSAGE(has(out, "no upstream is configured (--upstream)\n503"), out);
  s.proxy.stop();
  s.upstream.stop();
}
