// Who the proxy and its clients are to the upstreams, on the real tlsreactor-proxy binary:
// the client certificate the proxy shows an https upstream (nginx with ssl_verify_client as
// the upstream), the client's own certificate forwarded in RFC 9440's Client-Cert fields, and
// request ids (X-Request-Id, W3C traceparent). peers/upstream_peer.py's /headers shows what an
// upstream received; curl and python3's ssl are the clients.
#include <doctest/doctest.h>

#include <strings.h>

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/pem.h>

#include "apps/http/Base64.hpp"

#include "tests/integration/Nginx.hpp"
#include "tests/integration/Peers.hpp"
#include "tests/integration/ProxyPeers.hpp"
#include "tests/integration/Reload.hpp"
#include "tests/support/TestDir.hpp"
#include "tests/support/TestPki.hpp"
#include "tls/Ptr.hpp"

using integration::check_run;
using integration::contains;
using integration::curl;
using integration::ProxyServer;
using integration::Upstream;

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

namespace {

// The values of every "NAME: VALUE" line called `name` (any case) in upstream_peer's /headers
// answer or in a response head (its CRs dropped).
std::vector<std::string> field_values(const std::string& echoed, const std::string& name) {
  std::vector<std::string> values;
  std::istringstream lines(echoed);
  for (std::string line; std::getline(lines, line);) {
    if (line.ends_with('\r')) line.pop_back();
    const auto colon = line.find(": ");
    if (colon == std::string::npos || colon != name.size()) continue;
    if (strncasecmp(line.data(), name.data(), name.size()) != 0) continue;
    values.push_back(line.substr(colon + 2));
  }
  return values;
}

// The DER of the first certificate in PEM text.
std::string der_of_pem(const std::string& pem) {
  tls::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  tls::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(cert != nullptr);
  const int size = i2d_X509(cert.get(), nullptr);
  REQUIRE(size > 0);
  std::string der(static_cast<std::size_t>(size), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert.get(), &p);
  return der;
}

// The bytes of one RFC 8941 byte sequence, ":BASE64:".
std::string byte_sequence(const std::string& item) {
  REQUIRE_MESSAGE(item.size() >= 2, item);
  REQUIRE_MESSAGE((item.front() == ':' && item.back() == ':'), item);
  const auto bytes = apps::http::base64_decode(std::string_view(item).substr(1, item.size() - 2));
  REQUIRE_MESSAGE(bytes.has_value(), item);
  return {reinterpret_cast<const char*>(bytes->data()), bytes->size()};
}

// %XX-decoding, as nginx's $ssl_client_escaped_cert is encoded.
std::string url_decoded(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

TEST_CASE(
    "--forward-client-cert sends the client's certificate and chain as RFC 9440 fields, the "
    "same DER nginx's $ssl_client_escaped_cert gives, clients' own are always dropped") {
  test_support::TestDir dir;
  test_support::TestPki pki;
  Upstream upstream;
  // The dev certificate file holds the leaf and its CA: curl sends both, so the chain has one
  // certificate.
  const std::string leaf_pem = test_support::TestDir::read(pki.client.leaf.cert_file);
  const std::string ca_pem = test_support::TestDir::read(pki.client.ca_file);
  const std::vector<std::string> with_cert{"--cert", pki.client.leaf.cert_file, "--key",
                                           pki.client.leaf.key_file};
  const std::string forged = "Client-Cert: :Zm9yZ2Vk:";
  const std::string forged_chain = "Client-Cert-Chain: :Zm9yZ2Vk:";

  ProxyServer proxy(dir, {"--upstream", upstream.url(), "--client-ca", pki.client.ca_file,
                          "--client-verify", "optional", "--forward-client-cert"});
  std::vector<std::string> args = with_cert;
  args.insert(args.end(), {"-H", forged, "-H", forged_chain, proxy.url("/headers")});
  const std::string seen = curl(args);
  const auto cert = field_values(seen, "client-cert");
  REQUIRE_MESSAGE(cert.size() == 1, seen);
  CHECK(byte_sequence(cert[0]) == der_of_pem(leaf_pem));
  const auto chain = field_values(seen, "client-cert-chain");
  REQUIRE_MESSAGE(chain.size() == 1, seen);
  CHECK(byte_sequence(chain[0]) == der_of_pem(ca_pem));

  // No certificate (optional mode): nothing is forwarded, and the forged fields are gone.
  const std::string anonymous = curl({"-H", forged, "-H", forged_chain, proxy.url("/headers")});
  CHECK_MESSAGE(field_values(anonymous, "client-cert").empty(), anonymous);
  CHECK_MESSAGE(field_values(anonymous, "client-cert-chain").empty(), anonymous);
  proxy.stop();

  // Forwarding off: the certificate stays with the proxy, the forged fields are dropped still.
  ProxyServer quiet(dir, {"--upstream", upstream.url(), "--client-ca", pki.client.ca_file});
  args = with_cert;
  args.insert(args.end(), {"-H", forged, quiet.url("/headers")});
  const std::string unsent = curl(args);
  CHECK_MESSAGE(field_values(unsent, "client-cert").empty(), unsent);
  quiet.stop();

  // nginx as the TLS front, the same client certificate, the same echoing upstream.
  const std::string upstream_address = upstream.url().substr(std::string("http://").size());
  integration::Nginx nginx(
      dir, {pki.ecdsa.leaf.cert_file, pki.ecdsa.leaf.key_file,
            "    location = /front {\n      proxy_pass http://" + upstream_address +
                "/headers;\n      proxy_set_header X-Nginx-Cert $ssl_client_escaped_cert;\n    }\n",
            "    ssl_verify_client optional;\n    ssl_client_certificate " + pki.client.ca_file +
                ";\n"});
  args = with_cert;
  args.push_back(nginx.url("/front"));
  const std::string via_nginx = curl(args);
  const auto escaped = field_values(via_nginx, "x-nginx-cert");
  REQUIRE_MESSAGE(escaped.size() == 1, via_nginx);
  CHECK(der_of_pem(url_decoded(escaped[0])) == byte_sequence(cert[0]));
  nginx.stop();
}

TEST_CASE(
    "X-Request-Id: made for every request (sent upstream and back), a client's kept only "
    "from --trust-request-id-from, traceparent passed when well-formed, dropped when not") {
  test_support::TestDir dir;
  Upstream upstream;
  const auto id_of = [](const std::string& response) {
    const auto ids = field_values(response, "x-request-id");
    REQUIRE_MESSAGE(ids.size() == 1, response);
    return ids[0];
  };
  const auto hex32 = [](const std::string& id) {
    return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
  };
  ProxyServer proxy(dir, {"--upstream", upstream.url()}, true);
  // --include: the response's head then the upstream's echo of the request's head.
  const std::string first = curl({"--include", proxy.url("/headers")});
  const std::string head = first.substr(0, first.find("\r\n\r\n"));
  const std::string echoed = first.substr(first.find("\r\n\r\n") + 4);
  CHECK_MESSAGE(hex32(id_of(head)), first);
  CHECK(id_of(echoed) == id_of(head));
  CHECK(id_of(curl({proxy.url("/headers")})) != id_of(echoed));
  // Not trusted: replaced.
  const std::string replaced =
      id_of(curl({"-H", "X-Request-Id: from-the-client", proxy.url("/headers")}));
  CHECK(replaced != "from-the-client");
  CHECK(hex32(replaced));

  const std::string parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::string traced =
      curl({"-H", "traceparent: " + parent, "-H", "tracestate: vendor=1", proxy.url("/headers")});
  CHECK(field_values(traced, "traceparent") == std::vector<std::string>{parent});
  CHECK(field_values(traced, "tracestate") == std::vector<std::string>{"vendor=1"});
  const std::string malformed = curl({"-H", "traceparent: 00-not-a-trace-01", "-H",
                                      "tracestate: vendor=1", proxy.url("/headers")});
  CHECK_MESSAGE(field_values(malformed, "traceparent").empty(), malformed);
  CHECK_MESSAGE(field_values(malformed, "tracestate").empty(), malformed);
  proxy.stop();

  // Trusted (the load balancer in front): kept, upstream and back.
  ProxyServer trusting(
      dir, {"--upstream", upstream.url(), "--trust-request-id-from", "127.0.0.0/8"}, true);
  const std::string kept =
      curl({"--include", "-H", "X-Request-Id: lb-4711", trusting.url("/headers")});
  CHECK_MESSAGE(
      field_values(kept, "x-request-id") == (std::vector<std::string>{"lb-4711", "lb-4711"}), kept);
  // The proxy's own answers carry it too (no upstream at port 9: 502).
  ProxyServer nowhere(dir, {"--upstream", "http://127.0.0.1:9"}, true);
  const std::string refused = curl({"--include", nowhere.url("/")});
  CHECK_MESSAGE(contains(refused, " 502 "), refused);
  CHECK_MESSAGE(contains(refused, "X-Request-Id: "), refused);
  trusting.stop();
  nowhere.stop();
}
