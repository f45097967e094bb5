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
  auto sample = make(apps::TlsDefault::off);
  REQUIRE(parse(sample, {}));
  CHECK_FALSE(apps::serves_tls(sample));
  auto sample_tls = make(apps::TlsDefault::off);
  REQUIRE(parse(sample_tls, {"--tls"}));
  CHECK(apps::serves_tls(sample_tls));

  auto proxy = make(apps::TlsDefault::on);
  REQUIRE(parse(proxy, {}));
  CHECK(apps::serves_tls(proxy));
  auto plain = make(apps::TlsDefault::on);
  REQUIRE(parse(plain, {"--plain"}));
  CHECK_FALSE(apps::serves_tls(plain));
  auto no_tls_flag = make(apps::TlsDefault::on);
  CHECK_FALSE(parse(no_tls_flag, {"--tls"}));
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
