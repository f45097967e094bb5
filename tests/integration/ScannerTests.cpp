// The TLS defaults, judged by a scanner nobody here wrote: testssl.sh (peers/scan.py says
// what passes) against the HTTPS responder as it starts with no TLS options but --tls.
#include <doctest/doctest.h>

#include "tests/integration/Peers.hpp"
#include "tests/support/TestDir.hpp"

TEST_CASE("scanner: testssl.sh finds nothing above LOW in the HTTPS responder's defaults") {
  test_support::TestDir dir;
  integration::HelloServer hello({"--tls", "--dev-cert-dir", dir.path("cert")});
  auto scan = integration::python_peer(
      "scan.py", {"--port", hello.port_text(), "--ca", dir.path("cert/ca.pem"), "--json",
                  dir.path("findings.json")});
  const std::string out = integration::output_of(scan, std::chrono::seconds(300));
  MESSAGE(out);
  CHECK(out.find("scan: ") != std::string::npos);
  hello.stop();
}
