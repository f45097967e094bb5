#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/common/ServerApp.hpp"
#include "apps/common/TlsOptions.hpp"

namespace {

bool parse(apps::Args& args, std::vector<const char*> argv) {
  argv.insert(argv.begin(), "prog");
  return args.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
}

apps::Args make(apps::TlsDefault tls) {
  apps::Args args("prog", "summary", apps::server_options("127.0.0.1:1", {}, tls));
  args.set_quiet(true);
  return args;
}

}  // namespace

TEST_CASE("sample apps serve TLS with --tls, a TLS-first app unless --plain") {
  struct Case {
    apps::TlsDefault tls;
    std::vector<const char*> argv;
    bool parses;
    bool serves_tls;
  };
  const std::vector<Case> cases{
      {apps::TlsDefault::off, {}, true, false},
      {apps::TlsDefault::off, {"--tls"}, true, true},
      {apps::TlsDefault::on, {}, true, true},
      {apps::TlsDefault::on, {"--plain"}, true, false},
      {apps::TlsDefault::on, {"--tls"}, false, false},  // no such option there
  };
  for (const auto& c : cases) {
    CAPTURE(c.argv.size());
    auto args = make(c.tls);
    REQUIRE(parse(args, c.argv) == c.parses);
    if (c.parses) CHECK(apps::serves_tls(args) == c.serves_tls);
  }
}

TEST_CASE("what a reload cannot change is marked restart_only, certificates are not") {
  const auto args = make(apps::TlsDefault::on);
  for (const char* name : {"listen", "threads", "idle-timeout", "drain-timeout", "plain",
                           "dev-cert-dir", "async-jobs"}) {
    CAPTURE(name);
    REQUIRE(args.find(name) != nullptr);
    CHECK(args.find(name)->restart_only);
  }
  for (const char* name : {"cert", "key", "ticket-key", "client-ca"}) {
    CAPTURE(name);
    REQUIRE(args.find(name) != nullptr);
    CHECK_FALSE(args.find(name)->restart_only);
  }
  CHECK(args.find("cert")->repeatable);
  CHECK(args.find("key")->repeatable);
}

TEST_CASE(
    "the TLS limits reach tls::TransportOptions, and a handshake without a bound is refused") {
  auto args = make(apps::TlsDefault::off);
  REQUIRE(parse(args, {"--tls", "--handshake-timeout", "1.5", "--bye-timeout", "0.25",
                       "--max-plaintext-per-turn", "65536", "--handshakes-per-turn", "4"}));
  const auto options = apps::transport_options_from(args, 4096);
  REQUIRE(options.has_value());
  CHECK(options->handshake_timeout == std::chrono::milliseconds(1500));
  CHECK(options->bye_timeout == std::chrono::milliseconds(250));
  CHECK(options->max_plaintext_per_turn == 65536);
  CHECK(options->handshakes_per_turn == 4);
  CHECK(options->max_buffered == 4096);

  const auto defaults = apps::transport_options_from(make(apps::TlsDefault::off), 1);
  REQUIRE(defaults.has_value());
  CHECK(defaults->handshake_timeout == std::chrono::seconds(10));
  CHECK(defaults->bye_timeout == std::chrono::seconds(3));
  CHECK(defaults->max_plaintext_per_turn == 256 * 1024);
  CHECK(defaults->handshakes_per_turn == tls::TransportOptions{}.handshakes_per_turn);

  auto unbounded = make(apps::TlsDefault::off);
  REQUIRE(parse(unbounded, {"--handshake-timeout", "0"}));
  CHECK_FALSE(apps::transport_options_from(unbounded, 1).has_value());
  CHECK(unbounded.last_error().find("--handshake-timeout: must be more than 0") !=
        std::string::npos);
}
