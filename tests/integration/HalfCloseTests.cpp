// A TLS client that sends a complete request and then ends TCP without close_notify (a
// half-close, or a client that exits right after writing) still gets the response in flight,
// from the proxy (answered later, by an upstream) and from hello (a response too large for one
// write); the connection then ends as a truncation: OpenSSL's alert, not a close_notify.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "tests/integration/Peers.hpp"
#include "tests/integration/ProxyPeers.hpp"
#include "tests/support/TestDir.hpp"

using integration::output_of;
using integration::Process;
using integration::python_peer;

namespace {

std::string sha256_of_text(const test_support::TestDir& dir, const std::string& text) {
  const std::string file = dir.path("expected");
  std::ofstream(file, std::ios::binary) << text;
  Process sum({"sha256sum", file});
  const std::string out = output_of(sum);
  return out.substr(0, out.find(' '));
}

// peers/tls_peer.py request-fin: its three lines.
std::string request_then_fin(const std::string& port, const std::string& ca,
                             const std::string& path, const std::string& touch = {}) {
  std::vector<std::string> args{"request-fin", "--port", port,        "--ca", ca,
                                "--path",      path,     "--timeout", "30"};
  if (!touch.empty()) args.insert(args.end(), {"--touch", touch});
  auto peer = python_peer("tls_peer.py", std::move(args));
  return output_of(peer, std::chrono::seconds(40));
}

}  // namespace

TEST_CASE("proxy: a client's FIN without close_notify after its request still gets the response") {
  test_support::TestDir dir;
  integration::Upstream upstream;
  integration::ProxyServer proxy(dir, {"--upstream", upstream.url()});
  // The upstream holds the request until the peer has sent its FIN (it creates the file after):
  // the response is still to come when the proxy reads the end of the client's stream.
  const std::string release = dir.path("release");
  const std::string out = request_then_fin(proxy.port_text(), dir.path("proxy") + "/ca.pem",
                                           "/until?file=" + release, release);
  INFO(out);
  CHECK(integration::contains(out, "status: HTTP/1.1 200 OK\n"));
  CHECK(integration::contains(out, "body: 9 " + sha256_of_text(dir, "released\n") + "\n"));
  // Then the truncation is reported as one: OpenSSL's alert for the unexpected EOF.
  CHECK(integration::contains(out, "end: alert TLSV1_ALERT_DECODE_ERROR\n"));
  const auto seen = upstream.process().read_line(std::chrono::seconds(10));
  CHECK((seen && integration::contains(*seen, "received /until")));
  proxy.stop();  // exits 0: the truncated connection is gone
}

TEST_CASE("hello: a client's FIN without close_notify after its request still gets all 4 MB") {
  test_support::TestDir dir;
  integration::HelloServer hello({"--tls", "--dev-cert-dir", dir.path("hello")});
  constexpr std::size_t size = 4'000'000;
  std::string pattern(size, '\0');
  for (std::size_t i = 0; i < size; ++i) pattern[i] = static_cast<char>(i % 251);
  const std::string out =
      request_then_fin(hello.port_text(), dir.path("hello") + "/ca.pem", "/bytes/4000000");
  INFO(out);
  CHECK(integration::contains(out, "status: HTTP/1.1 200 OK\n"));
  CHECK(integration::contains(out, "body: 4000000 " + sha256_of_text(dir, pattern) + "\n"));
  CHECK(integration::contains(out, "end: alert TLSV1_ALERT_DECODE_ERROR\n"));
  hello.stop();
}
