// tlsreactor-echo --tls against Python's ssl module (peers/tls_peer.py): bulk data echoed
// byte-exact with the close_notify exchange at the end, and a peer that truncates the stream.
#include <doctest/doctest.h>

#include <string>

#include "tests/integration/Peers.hpp"
#include "tests/support/TestDir.hpp"

using namespace std::chrono_literals;
using integration::python_peer;
using integration::TlsEchoServer;
using test_support::TestDir;

namespace {

// 16 MiB sent while its echo is read, checked byte for byte; then unwrap() sends close_notify
// and returns only once the server's close_notify came back.
void check_bulk_echo(const std::string& version) {
  TestDir dir;
  TlsEchoServer server(dir.path("server"));
  auto client =
      python_peer("tls_peer.py", {"bulk", "--port", server.port_text(), "--ca", server.ca_file(),
                                  "--tls-version", version, "--bytes", std::to_string(16 << 20)});
  const std::string out = integration::output_of(client, 40s);
  CHECK_MESSAGE(out.starts_with("ok: 16777216 bytes echoed byte-exact over TLSv" + version +
                                ", close_notify answered"),
                out);
  server.stop();
}

}  // namespace

TEST_CASE("python ssl: 16 MiB echoed byte-exact over TLS 1.3 then close_notify both ways") {
  check_bulk_echo("1.3");
}

TEST_CASE("python ssl: 16 MiB echoed byte-exact over TLS 1.2 then close_notify both ways") {
  check_bulk_echo("1.2");
}

TEST_CASE("a FIN without close_notify closes the connection as truncated and the next is served") {
  TestDir dir;
  TlsEchoServer server(dir.path("server"));
  for (const std::string version : {"1.3", "1.2"}) {
    CAPTURE(version);
    auto peer =
        python_peer("tls_peer.py", {"truncate", "--port", server.port_text(), "--ca",
                                    server.ca_file(), "--tls-version", version, "--timeout", "10"});
    const std::string out = integration::output_of(peer, 20s);
    // The line sent before the FIN still comes back: it was a complete record.
    CHECK_MESSAGE(out.starts_with("echo: truncated after this line\n"), out);
    // Then the server ends the connection. Not with a close_notify, which would pass the
    // truncated stream off as complete: OpenSSL 3 turns the unexpected EOF into a fatal
    // decode_error alert, which the server flushes before closing.
    CHECK_MESSAGE(out.ends_with("end: alert TLSV1_ALERT_DECODE_ERROR\n"), out);
  }
  auto next = python_peer("tls_peer.py", {"bulk", "--port", server.port_text(), "--ca",
                                          server.ca_file(), "--bytes", "65536"});
  integration::check_peer_succeeds(next);
  server.stop();  // exits 0: it neither crashed nor kept the truncated connections
}
