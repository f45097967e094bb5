// The TLS defaults, judged by a scanner nobody here wrote: testssl.sh (peers/scan.py says
// what passes) against the HTTPS responder and the proxy as they start with no TLS options.
#include <doctest/doctest.h>

#include "tests/integration/Peers.hpp"
#include "tests/support/TestDir.hpp"

namespace {

void scan(const test_support::TestDir& dir, const std::string& port) {
  auto scan = integration::python_peer("scan.py", {"--port", port, "--ca", dir.path("cert/ca.pem"),
                                                   "--json", dir.path("findings.json")});
  const std::string out = integration::output_of(scan, std::chrono::seconds(300));
  MESSAGE(out);
  CHECK(out.find("scan: ") != std::string::npos);
}

}  // namespace

TEST_CASE("scanner: testssl.sh finds nothing above LOW in the HTTPS responder's defaults") {
  test_support::TestDir dir;
  integration::HelloServer hello({"--tls", "--dev-cert-dir", dir.path("cert")});
  scan(dir, hello.port_text());
  hello.stop();
}

TEST_CASE("scanner: testssl.sh finds nothing above LOW in the proxy's defaults") {
  test_support::TestDir dir;
  integration::HelloServer upstream({});
  integration::AppServer proxy(TLSREACTOR_PROXY_BIN,
                               {"--dev-cert-dir", dir.path("cert"), "--access-log", "off",
                                "--upstream", "http://127.0.0.1:" + upstream.port_text()},
                               "127.0.0.1:0", 1);
  scan(dir, proxy.port_text());
  proxy.stop();
  upstream.stop();
}
