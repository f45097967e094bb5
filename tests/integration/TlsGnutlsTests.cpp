// tlsreactor-echo --tls against a second TLS implementation: GnuTLS's gnutls-cli, driven
// through its stdin. It verifies the development certificate, gets a line echoed and, after
// the end of its stdin, sends close_notify and reports the server's.
#include <doctest/doctest.h>

#include <string>

#include "tests/integration/Peers.hpp"
#include "tests/support/TestDir.hpp"

using integration::interact;
using integration::Interaction;
using integration::TlsEchoServer;
using test_support::TestDir;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// gnutls-cli against the echo server with `priority`; `description` is the start of its
// "- Description: (TLS1.3-X.509)-..." line.
void check_gnutls_echo(const std::string& priority, const std::string& description) {
  TestDir dir;
  TlsEchoServer server(dir.path("server"));
  const std::string line = "gnutls says hello with " + priority;
  const Interaction r = interact(
      {"send:" + line, "line:" + line, "close", "line:- Peer has closed the GnuTLS connection",
       "exit:0"},
      {"gnutls-cli", "--x509cafile", server.ca_file(), "--priority", priority, "--sni-hostname",
       "localhost", "--verify-hostname", "localhost", "--port", server.port_text(), "127.0.0.1"});
  CHECK_MESSAGE(r.ok, r.transcript());
  CHECK_MESSAGE(has(r.out, "- Status: The certificate is trusted."), r.transcript());
  CHECK_MESSAGE(has(r.out, "- Description: " + description), r.transcript());
  server.stop();
}

}  // namespace

TEST_CASE("gnutls-cli over TLS 1.3 verifies the server and gets a line echoed and a close_notify") {
  check_gnutls_echo("NORMAL", "(TLS1.3-X.509)-");
}

TEST_CASE("gnutls-cli over TLS 1.2 verifies the server and gets a line echoed and a close_notify") {
  check_gnutls_echo("NORMAL:-VERS-ALL:+VERS-TLS1.2", "(TLS1.2-X.509)-");
}
