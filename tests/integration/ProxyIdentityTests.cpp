// Who the proxy and its clients are to the upstreams, on the real tlsreactor-proxy binary:
// the client certificate the proxy shows an https upstream (nginx with ssl_verify_client as
// the upstream), the client's own certificate forwarded in RFC 9440's Client-Cert fields, and
// request ids (X-Request-Id, W3C traceparent). peers/upstream_peer.py's /headers shows what an
// upstream received; curl and python3's ssl are the clients.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/integration/Nginx.hpp"
#include "tests/integration/Peers.hpp"
#include "tests/integration/ProxyPeers.hpp"
#include "tests/integration/Reload.hpp"
#include "tests/support/TestDir.hpp"
#include "tests/support/TestPki.hpp"

using integration::check_run;
using integration::contains;
using integration::curl;
using integration::ProxyServer;

namespace {

// nginx as an https upstream that requires a client certificate signed by the test client CA;
// GET /who says whether one was shown and verified.
integration::NginxSite requiring_client_certs(const test_support::TestPki& pki) {
  return {pki.ecdsa.leaf.cert_file, pki.ecdsa.leaf.key_file,
          "    location = /who { return 200 \"verify=$ssl_client_verify "
          "dn=$ssl_client_s_dn\\n\"; }\n",
          "    ssl_verify_client on;\n    ssl_client_certificate " + pki.client.ca_file + ";\n"};
}

}  // namespace

TEST_CASE(
    "an https upstream requiring a client certificate answers the proxy that shows "
    "--upstream-client-cert, and refuses the one that shows none") {
  test_support::TestDir dir;
  test_support::TestPki pki;
  integration::Nginx nginx(dir, requiring_client_certs(pki));
  {
    ProxyServer with(dir, {"--upstream", nginx.url(""), "--upstream-ca", pki.ecdsa.ca_file,
                           "--upstream-client-cert", pki.client.leaf.cert_file,
                           "--upstream-client-key", pki.client.leaf.key_file});
    const std::string who = curl({"--write-out", "%{http_code}\n", with.url("/who")});
    CHECK_MESSAGE(contains(who, "verify=SUCCESS dn=CN=client.test,O=tlsreactor development\n200\n"),
                  who);
    with.stop();
  }
  {
    // nginx finishes the handshake and refuses at the HTTP level: its 400 comes back as is.
    ProxyServer without(dir, {"--upstream", nginx.url(""), "--upstream-ca", pki.ecdsa.ca_file});
    const std::string refused = curl({"--write-out", "%{http_code}\n", without.url("/who")});
    CHECK_MESSAGE(contains(refused, "No required SSL certificate was sent"), refused);
    CHECK_MESSAGE(refused.ends_with("400\n"), refused);
    without.stop();
  }
  nginx.stop();
}

TEST_CASE(
    "[[group]] client-cert: each group shows its own certificate to the same https "
    "upstream, and a bad file is reported with FILE:LINE") {
  test_support::TestDir dir;
  test_support::TestPki pki;
  integration::Nginx nginx(dir, requiring_client_certs(pki));
  const std::string groups = "upstream-ca = \"" + pki.ecdsa.ca_file +
                             "\"\n"
                             "[[group]]\nname = \"mtls\"\nupstreams = [\"" +
                             nginx.url("") +
                             "\"]\n"
                             "client-cert = \"" +
                             pki.client.leaf.cert_file + "\"\nclient-key = \"" +
                             pki.client.leaf.key_file +
                             "\"\n"
                             "[[group]]\nname = \"anonymous\"\nupstreams = [\"" +
                             nginx.url("") + "\"]\n";
  const std::string routes =
      "[[route]]\npath = \"/who\"\ngroup = \"mtls\"\n"
      "[[route]]\npath = \"/anonymous/\"\nrewrite-prefix = \"/\"\ngroup = \"anonymous\"\n";
  ProxyServer proxy(dir, {"--config", dir.write("proxy.toml", groups + routes)});
  const std::string who = curl({proxy.url("/who")});
  CHECK_MESSAGE(contains(who, "verify=SUCCESS"), who);
  const std::string anonymous =
      curl({"--write-out", "%{http_code}\n", proxy.url("/anonymous/who")});
  CHECK_MESSAGE(anonymous.ends_with("400\n"), anonymous);
  proxy.stop();
  nginx.stop();

  // Line 6 is the group's client-cert; the file is not a certificate.
  const std::string not_pem = dir.write("not.pem", "not a certificate\n");
  const std::string bad = dir.write(
      "bad.toml", "upstream-ca = \"" + pki.ecdsa.ca_file +
                      "\"\n[[group]]\nname = \"mtls\"\nupstreams = [\"https://127.0.0.1:9\"]\n"
                      "client-key = \"" +
                      pki.client.leaf.key_file + "\"\nclient-cert = \"" + not_pem + "\"\n" +
                      "[[route]]\ngroup = \"mtls\"\n");
  const auto [code, out] = check_run(TLSREACTOR_PROXY_BIN, {"--config", bad});
  CHECK(code == 1);
  CHECK_MESSAGE(contains(out, bad + ":6: "), out);
  CHECK_MESSAGE(contains(out, not_pem), out);
  // client-cert on a group of http:// upstreams only: nothing to show it to.
  const std::string plain =
      dir.write("plain.toml",
                "[[group]]\nname = \"p\"\nupstreams = [\"http://127.0.0.1:9\"]\n"
                "client-cert = \"" +
                    pki.client.leaf.cert_file + "\"\nclient-key = \"" + pki.client.leaf.key_file +
                    "\"\n[[route]]\ngroup = \"p\"\n");
  const auto [plain_code, plain_out] = check_run(TLSREACTOR_PROXY_BIN, {"--config", plain});
  CHECK(plain_code == 1);
  CHECK_MESSAGE(contains(plain_out, plain + ":1:1: [[group]] 'p': client-cert needs an https://"),
                plain_out);
}
