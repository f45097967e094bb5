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
