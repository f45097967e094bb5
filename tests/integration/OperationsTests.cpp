// Operations the way nginx users expect them, on the real tlsreactor-hello and tlsreactor-echo
// binaries: --config files that flags override, --check (nginx -t), certificates chosen by SNI
// from repeated --cert/--key, and SIGHUP reloads (nginx -s reload) that only new connections
// see. Clients are Python's ssl and http.client (peers/reload_peer.py).
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/Peers.hpp"
#include "tests/integration/Reload.hpp"
#include "tests/support/TestDir.hpp"
#include "tests/support/TestPki.hpp"

namespace {

using namespace std::chrono_literals;
using integration::check_run;
using integration::contains;
using integration::HelloServer;
using integration::new_client;
using integration::Reloadable;
using integration::reloaded;
using test_support::Process;

}  // namespace

TEST_CASE("a --config file supplies the options and command-line flags override it") {
  test_support::TestPki pki;
  test_support::TestDir dir;
  std::filesystem::create_directories(dir.path("file-root"));
  std::filesystem::create_directories(dir.path("flag-root"));
  dir.write("file-root/who.txt", "the file's root\n");
  dir.write("flag-root/who.txt", "the command line's root\n");
  // listen and threads are overridden by the --listen/--threads HelloServer passes.
  const std::string config = dir.write("hello.toml",
                                       "listen = \"127.0.0.1:1\"\nthreads = 3\ntls = true\n"
                                       "cert = \"" +
                                           pki.ecdsa.leaf.cert_file +
                                           "\"\n"
                                           "key = \"" +
                                           pki.ecdsa.leaf.key_file +
                                           "\"\n"
                                           "root = \"" +
                                           dir.path("file-root") + "\"\n");
  HelloServer server({"--config", config, "--root", dir.path("flag-root")});
  const std::string out = new_client(server, pki.all_server_cas, {"--path", "/files/who.txt"});
  CHECK_MESSAGE(contains(out, "subject: localhost\n"), out);  // TLS and the certificate: file
  CHECK_MESSAGE(contains(out, "status: 200\nbody: the command line's root\n"), out);
  server.stop();
}

TEST_CASE("--check accepts a good configuration, like nginx -t") {
  test_support::TestPki pki;
  test_support::TestDir dir;
  const std::string config =
      dir.write("good.toml",
                "tls = true\nthreads = 2\n"
                "cert = [\"" +
                    pki.ecdsa.leaf.cert_file + "\", \"" + pki.other.leaf.cert_file +
                    "\"]\n"
                    "key = [\"" +
                    pki.ecdsa.leaf.key_file + "\", \"" + pki.other.leaf.key_file + "\"]\n");
  const auto [code, out] = check_run(TLSREACTOR_HELLO_BIN, {"--config", config});
  CHECK_MESSAGE(code == 0, out);
  CHECK_MESSAGE(contains(out, "stdout:\ntlsreactor-hello: configuration OK\n"), out);
  const auto [echo_code, echo_out] =
      check_run(TLSREACTOR_ECHO_BIN,
                {"--tls", "--cert", pki.rsa.leaf.cert_file, "--key", pki.rsa.leaf.key_file});
  CHECK_MESSAGE(echo_code == 0, echo_out);
  CHECK_MESSAGE(contains(echo_out, "tlsreactor-echo: configuration OK"), echo_out);
}

TEST_CASE("--check refuses bad configurations with the first error and its file:line") {
  test_support::TestPki pki;
  test_support::TestDir dir;
  const std::string cert = pki.ecdsa.leaf.cert_file;
  const std::string key = pki.ecdsa.leaf.key_file;
  SUBCASE("an unknown key") {
    const std::string config = dir.write("bad.toml", "tls = true\nupstreams = 1\n");
    const auto [code, out] = check_run(TLSREACTOR_HELLO_BIN, {"--config", config});
    CHECK(code == 1);
    CHECK_MESSAGE(contains(out, config + ":2:1: unknown key 'upstreams'"), out);
    CHECK_FALSE(contains(out, "configuration OK"));
  }
  SUBCASE("a value of the wrong type") {
    const std::string config = dir.write("bad.toml", "threads = \"many\"\n");
    const auto [code, out] = check_run(TLSREACTOR_HELLO_BIN, {"--config", config});
    CHECK(code == 1);
    CHECK_MESSAGE(contains(out, config + ":1:11: threads: expected a whole number"), out);
  }
  SUBCASE("a missing certificate file") {
    const std::string missing = dir.path("missing.pem");
    const std::string config =
        dir.write("bad.toml", "tls = true\ncert = \"" + missing + "\"\nkey = \"" + key + "\"\n");
    const auto [code, out] = check_run(TLSREACTOR_HELLO_BIN, {"--config", config});
    CHECK(code == 1);
    CHECK_MESSAGE(contains(out, config + ":2:8: load certificate " + missing), out);
  }
  SUBCASE("a key file that holds no key") {
    const std::string bad_key = dir.write("bad.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n");
    const auto [code, out] =
        check_run(TLSREACTOR_ECHO_BIN, {"--tls", "--cert", cert, "--key", bad_key});
    CHECK(code == 1);
    CHECK_MESSAGE(contains(out, bad_key), out);
  }
  SUBCASE("a key that does not match its certificate") {
    const auto [code, out] = check_run(TLSREACTOR_HELLO_BIN,
                                       {"--tls", "--cert", cert, "--key", pki.other.leaf.key_file});
    CHECK(code == 1);
    CHECK_MESSAGE(contains(out, pki.other.leaf.key_file), out);
  }
  SUBCASE("a --cert without its --key") {
    const auto [code, out] =
        check_run(TLSREACTOR_HELLO_BIN, {"--tls", "--cert", cert, "--key", key, "--cert", cert});
    CHECK(code == 1);
    CHECK_MESSAGE(contains(out, "--cert and --key go in pairs: 2 --cert, 1 --key"), out);
  }
}

TEST_CASE("repeated --cert/--key pairs are chosen by SNI and the first is the default") {
  test_support::TestPki pki;
  HelloServer server({"--tls", "--cert", pki.ecdsa.leaf.cert_file, "--key", pki.ecdsa.leaf.key_file,
                      "--cert", pki.other.leaf.cert_file, "--key", pki.other.leaf.key_file,
                      "--cert", pki.wild.leaf.cert_file, "--key", pki.wild.leaf.key_file});
  const std::string ca = pki.all_server_cas;
  CHECK(contains(new_client(server, ca, {"--sni", "other.test"}), "subject: other.test\n"));
  CHECK(contains(new_client(server, ca, {"--sni", "a.wild.test"}), "subject: *.wild.test\n"));
  CHECK(contains(new_client(server, ca, {"--sni", "unknown.test"}), "subject: localhost\n"));
  CHECK(contains(new_client(server, ca), "subject: localhost\n"));  // no SNI at all
  server.stop();
}

TEST_CASE("SIGHUP swaps the certificate for new connections while an open one keeps working") {
  const Reloadable setup;
  const auto server = setup.start(TLSREACTOR_HELLO_BIN);
  CHECK(contains(new_client(*server, setup.ca), "subject: localhost\n"));

  auto old = setup.held_client(*server);
  const auto first = old.read_line(20s);
  REQUIRE_MESSAGE(first == "first: localhost 200 hello from tlsreactor", old.transcript());

  setup.install(setup.pki.other);
  setup.reload(*server);
  CHECK(contains(new_client(*server, setup.ca), "subject: other.test\n"));

  setup.release_held();
  const auto second = old.read_line(20s);
  CHECK_MESSAGE(second == "second: localhost 200 hello from tlsreactor", old.transcript());
  integration::check_peer_succeeds(old);
  server->stop();
}

TEST_CASE("a broken certificate on SIGHUP keeps the old one and the log says why") {
  const Reloadable setup;
  const auto server = setup.start(TLSREACTOR_HELLO_BIN);
  Process& process = server->process();

  const std::string log = setup.reload_broken_certificate(*server);
  CHECK_MESSAGE(contains(log, setup.broken_certificate_error()), log);
  CHECK(contains(new_client(*server, setup.ca), "subject: localhost\n"));

  // A broken config file is refused the same way.
  setup.write_config("bogus = 1\n");
  process.signal(SIGHUP);
  REQUIRE(process.wait_for_stderr(integration::reload_refused, 2, 20s));
  CHECK(contains(process.transcript(), setup.config + ":4:1: unknown key 'bogus'"));
  CHECK(contains(new_client(*server, setup.ca), "subject: localhost\n"));

  // Once both are fixed, the next SIGHUP takes the new certificate.
  setup.write_config("");
  setup.install(setup.pki.other);
  process.signal(SIGHUP);
  REQUIRE(process.wait_for_stderr(reloaded, 1, 20s));
  CHECK(contains(new_client(*server, setup.ca), "subject: other.test\n"));
  server->stop();
}

TEST_CASE("options that take a restart keep their value on SIGHUP and the log says so") {
  test_support::TestDir dir;
  const std::string config = dir.write("hello.toml", "idle-timeout = 30\n");
  HelloServer server({"--config", config});
  dir.write("hello.toml", "idle-timeout = 5\n");
  server.process().signal(SIGHUP);
  REQUIRE(server.process().wait_for_stderr(reloaded, 1, 20s));
  CHECK_MESSAGE(contains(server.process().transcript(),
                         "reload: --idle-timeout changed to '5' but takes a restart; '30' stays"),
                server.process().transcript());
  Process curl({"curl", "-sS", "--max-time", "20", server.url("/")});
  CHECK(integration::output_of(curl) == "hello from tlsreactor\n");
  server.stop();
}

TEST_CASE("every app's --version names it, its revision, and OpenSSL and libuv built and running") {
  for (const std::string& bin :
       {std::string(TLSREACTOR_ECHO_BIN), std::string(TLSREACTOR_HELLO_BIN),
        std::string(TLSREACTOR_PROXY_BIN)}) {
    Process app({bin, "--version"});
    const std::string out = integration::output_of(app);  // also checks the exit status 0
    INFO(bin, "\n", out);
    const std::string name = std::filesystem::path(bin).filename().string();
    CHECK(out.starts_with(name + " " TLSREACTOR_PROJECT_VERSION " (git "));
    CHECK(contains(out, "\nOpenSSL: built with OpenSSL 3."));
    CHECK(contains(out, ", running with OpenSSL 3."));
    CHECK(contains(out, "\nlibuv: built with 1."));
    CHECK(contains(out, ", running with 1."));
    // Nothing else ran: no listening line, no log.
    CHECK(integration::occurrences(out, "\n") == 3);
  }
}
