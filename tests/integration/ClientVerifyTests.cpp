// --client-ca with --client-verify require|optional (nginx ssl_verify_client on|optional), on
// tlsreactor-hello: curl without a certificate, with one the client CA signed, and with one it
// did not.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/integration/Peers.hpp"
#include "tests/support/TestDir.hpp"
#include "tests/support/TestPki.hpp"

using integration::finish;
using integration::HelloServer;
using integration::Process;

namespace {

// hello over TLS with its development certificate, asking for client certificates.
HelloServer hello_asking(const test_support::TestDir& dir, const test_support::TestPki& pki,
                         std::vector<std::string> extra) {
  std::vector<std::string> options{"--tls", "--dev-cert-dir", dir.path("hello"), "--client-ca",
                                   pki.client.ca_file};
  options.insert(options.end(), extra.begin(), extra.end());
  return HelloServer(std::move(options));
}

// curl's exit code and output for GET / with `cert_args` (--cert/--key or none).
std::pair<int, std::string> get(const HelloServer& hello, std::vector<std::string> cert_args) {
  std::vector<std::string> argv{"curl",       "--silent", "--show-error",
                                "--max-time", "30",       "--insecure"};
  argv.insert(argv.end(), cert_args.begin(), cert_args.end());
  argv.push_back("https://127.0.0.1:" + hello.port_text() + "/");
  Process curl(std::move(argv));
  std::string out;
  while (auto line = curl.read_line(std::chrono::seconds(40))) out += *line + "\n";
  const int code = finish(curl);
  return {code, out + curl.transcript()};
}

}  // namespace

TEST_CASE(
    "--client-verify optional lets a client without a certificate in, takes a good one and "
    "refuses a certificate that fails verification") {
  test_support::TestDir dir;
  test_support::TestPki pki;
  HelloServer hello = hello_asking(dir, pki, {"--client-verify", "optional"});
  const auto [none_code, none] = get(hello, {});
  CHECK_MESSAGE(none_code == 0, none);
  const auto [good_code, good] =
      get(hello, {"--cert", pki.client.leaf.cert_file, "--key", pki.client.leaf.key_file});
  CHECK_MESSAGE(good_code == 0, good);
  // Signed by the server CA, not the client CA: refused in the handshake.
  const auto [bad_code, bad] =
      get(hello, {"--cert", pki.ecdsa.leaf.cert_file, "--key", pki.ecdsa.leaf.key_file});
  CHECK_MESSAGE(bad_code != 0, bad);
  hello.stop();
}

TEST_CASE("--client-verify require (the default with --client-ca) refuses a client without one") {
  test_support::TestDir dir;
  test_support::TestPki pki;
  HelloServer hello = hello_asking(dir, pki, {});
  const auto [none_code, none] = get(hello, {});
  CHECK_MESSAGE(none_code != 0, none);
  const auto [good_code, good] =
      get(hello, {"--cert", pki.client.leaf.cert_file, "--key", pki.client.leaf.key_file});
  CHECK_MESSAGE(good_code == 0, good);
  hello.stop();
}

TEST_CASE("--client-verify without --client-ca, or with another word, is refused at start") {
  test_support::TestDir dir;
  test_support::TestPki pki;
  for (const auto& [args, said] :
       {std::pair{std::vector<std::string>{"--client-verify", "optional"},
                  "--client-verify goes with --client-ca"},
        std::pair{std::vector<std::string>{"--client-ca", pki.client.ca_file, "--client-verify",
                                           "sometimes"},
                  "--client-verify: expected require or optional, got 'sometimes'"}}) {
    std::vector<std::string> argv{TLSREACTOR_HELLO_BIN, "--tls",          "--listen",
                                  "127.0.0.1:0",        "--dev-cert-dir", dir.path("hello")};
    argv.insert(argv.end(), args.begin(), args.end());
    Process hello(std::move(argv));
    CHECK(finish(hello) != 0);
    CHECK_MESSAGE(integration::contains(hello.transcript(), said), hello.transcript());
  }
}
