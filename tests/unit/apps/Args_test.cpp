#include <doctest/doctest.h>

#include <vector>

#include "apps/common/Args.hpp"

namespace {

apps::Args make() {
  return apps::Args("prog", "summary",
                    {{"listen", "HOST:PORT", "where", "127.0.0.1:7000"},
                     {"threads", "N", "loops", "1"},
                     {"idle-timeout", "SECONDS", "idle", "60"},
                     {"verbose", "", "more output", ""}});
}

bool parse(apps::Args& args, std::vector<const char*> argv) {
  argv.insert(argv.begin(), "prog");
  return args.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
}

}  // namespace

TEST_CASE("options take values separately or after =, flags take none, defaults fill the rest") {
  auto args = make();
  REQUIRE(parse(args, {"--listen", "[::1]:9", "--threads=4", "--verbose"}));
  CHECK(args.host_port("listen")->host == "::1");
  CHECK(args.count("threads", 1, 64) == 4u);
  CHECK(args.flag("verbose"));
  CHECK(args.seconds("idle-timeout") == std::chrono::milliseconds(60000));
}

TEST_CASE("bad command lines are refused with exit status 2, --help with 0") {
  auto unknown = make();
  CHECK_FALSE(parse(unknown, {"--nope"}));
  CHECK(unknown.exit_code() == 2);
  auto missing = make();
  CHECK_FALSE(parse(missing, {"--listen"}));
  CHECK(missing.exit_code() == 2);
  auto help = make();
  CHECK_FALSE(parse(help, {"--help"}));
  CHECK(help.exit_code() == 0);
}

TEST_CASE("typed getters refuse values out of range") {
  auto args = make();
  REQUIRE(parse(args, {"--threads", "0", "--idle-timeout", "-1", "--listen", "nohost"}));
  CHECK_FALSE(args.count("threads", 1, 64));
  CHECK_FALSE(args.seconds("idle-timeout"));
  CHECK_FALSE(args.host_port("listen"));
  auto half = make();
  REQUIRE(parse(half, {"--idle-timeout", "0.25"}));
  CHECK(half.seconds("idle-timeout") == std::chrono::milliseconds(250));
}

TEST_CASE("a repeatable option keeps every value in order, others keep the last") {
  apps::Args args("prog", "summary",
                  {{"cert", "FILE", "certificate", "", true},
                   {"key", "FILE", "key", "", true},
                   {"threads", "N", "loops", "1"}});
  REQUIRE(parse(args, {"--cert", "a.pem", "--key", "a.key", "--cert=b.pem", "--key", "b.key",
                       "--threads", "2", "--threads", "3"}));
  CHECK(args.values("cert") == std::vector<std::string>{"a.pem", "b.pem"});
  CHECK(args.values("key") == std::vector<std::string>{"a.key", "b.key"});
  CHECK(args.get("cert") == "b.pem");
  CHECK(args.count("threads", 1, 64) == 3u);
  CHECK(args.values("threads") == std::vector<std::string>{"3"});
}

TEST_CASE("given() tells the command line from defaults, values() falls back to the default") {
  auto args = make();
  REQUIRE(parse(args, {"--threads", "1"}));
  CHECK(args.given("threads"));
  CHECK_FALSE(args.given("listen"));
  CHECK(args.values("listen") == std::vector<std::string>{"127.0.0.1:7000"});
  CHECK(args.values("verbose").empty());
}
