#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/common/Args.hpp"
#include "apps/common/ConfigFile.hpp"
#include "tests/support/TestDir.hpp"

namespace {

apps::Args make() {
  apps::Args args("prog", "summary",
                  {{"listen", "HOST:PORT", "where", "127.0.0.1:7000"},
                   {"threads", "N", "loops", "1"},
                   {"idle-timeout", "SECONDS", "idle", "60"},
                   {"tls", "", "serve TLS", ""},
                   {"upstream", "URL", "an upstream", "", true},
                   {"ticket-key", "FILE[,FILE...]", "keys", ""},
                   {"config", "FILE", "a TOML file", ""},
                   {"check", "", "validate only", ""}});
  args.set_quiet(true);
  return args;
}

bool parse(apps::Args& args, std::vector<const char*> argv) {
  argv.insert(argv.begin(), "prog");
  return args.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
}

// The error apply_config() gives for `text`, read as the file "proxy.toml".
std::string error_for(const std::string& text) {
  auto args = make();
  std::string error;
  CHECK_FALSE(apply_config(args, text, "proxy.toml", error));
  CHECK_FALSE(args.flag("tls"));  // a refused file leaves nothing behind
  return error;
}

}  // namespace

TEST_CASE("config file keys are the long option names, with TOML types") {
  auto args = make();
  std::string error;
  REQUIRE_MESSAGE(apps::apply_config(args,
                                     "listen = \"[::1]:8443\"\n"
                                     "threads = 2\n"
                                     "idle-timeout = 0.5\n"
                                     "tls = true\n"
                                     "upstream = [\"http://a:1\", \"https://b:2\"]\n"
                                     "ticket-key = [\"new.key\", \"old.key\"]\n",
                                     "proxy.toml", error),
                  error);
  CHECK(args.host_port("listen")->port == 8443);
  CHECK(args.count("threads", 1, 64) == 2u);
  CHECK(args.seconds("idle-timeout") == std::chrono::milliseconds(500));
  CHECK(args.flag("tls"));
  CHECK(args.values("upstream") == std::vector<std::string>{"http://a:1", "https://b:2"});
  CHECK(args.list("ticket-key") == std::vector<std::string>{"new.key", "old.key"});
  CHECK_FALSE(args.given("threads"));  // from the file, not the command line
  CHECK(args.origin("threads") == "proxy.toml:2:11");
}

TEST_CASE("false turns a flag off and one string fills a repeatable option") {
  auto args = make();
  std::string error;
  REQUIRE(apps::apply_config(args, "tls = false\nupstream = \"http://only:1\"\n", "f.toml", error));
  CHECK_FALSE(args.flag("tls"));
  CHECK(args.values("upstream") == std::vector<std::string>{"http://only:1"});
}

TEST_CASE("config file errors name file, line, column and the key") {
  CHECK(error_for("listen = \"127.0.0.1:1\"\n\n\nupstreams = 1\n") ==
        "proxy.toml:4:1: unknown key 'upstreams'");
  CHECK(error_for("threads = true\n") ==
        "proxy.toml:1:11: 'threads': expected a string or a number (N), got a boolean");
  CHECK(error_for("tls = \"yes\"\n") ==
        "proxy.toml:1:7: 'tls' is a flag: expected true or false, got a string");
  CHECK(error_for("threads = [1, 2]\n") ==
        "proxy.toml:1:11: 'threads': expected a string or a number (N), got an array");
  CHECK(error_for("upstream = [\"http://a:1\", true]\n")
            .starts_with(
                "proxy.toml:1:12: 'upstream': expected strings in the array, got a boolean"));
  const std::string table = error_for("[listen]\nport = 1\n");
  CHECK_MESSAGE(table.starts_with("proxy.toml:1:1: 'listen': expected a string or a number"),
                table);
  CHECK(error_for("check = true\n") == "proxy.toml:1:1: 'check' belongs on the command line only");
  // toml++'s own reason, at its source position.
  const std::string syntax = error_for("threads = 2\nlisten = \"unterminated\n");
  CHECK_MESSAGE(syntax.starts_with("proxy.toml:2:"), syntax);
  CHECK(syntax.size() > std::string("proxy.toml:2:1: ").size());
}

TEST_CASE("the command line overrides the config file, a repeated option as a whole") {
  test_support::TestDir dir;
  const std::string file = dir.write("app.toml",
                                     "threads = 3\n"
                                     "listen = \"127.0.0.1:1\"\n"
                                     "upstream = [\"http://file:1\", \"http://file:2\"]\n");
  auto args = make();
  REQUIRE(parse(args, {"--config", file.c_str(), "--threads", "5", "--upstream", "http://cli:1",
                       "--upstream", "http://cli:2", "--upstream", "http://cli:3"}));
  CHECK(args.count("threads", 1, 64) == 5u);
  CHECK(args.given("threads"));
  CHECK(args.get("listen") == "127.0.0.1:1");
  CHECK_FALSE(args.given("listen"));
  CHECK(args.values("upstream") ==
        std::vector<std::string>{"http://cli:1", "http://cli:2", "http://cli:3"});
}

TEST_CASE("a bad value from the config file is reported with its file:line") {
  test_support::TestDir dir;
  const std::string file = dir.write("app.toml", "threads = 0\n");
  auto args = make();
  REQUIRE(parse(args, {"--config", file.c_str()}));
  CHECK_FALSE(args.count("threads", 1, 64));
  CHECK(args.last_error() ==
        file + ":1:11: threads: expected a whole number from 1 to 64, got '0'");
  auto cli = make();
  REQUIRE(parse(cli, {"--config", file.c_str(), "--threads", "0"}));
  CHECK_FALSE(cli.count("threads", 1, 64));
  CHECK(cli.last_error() == "--threads: expected a whole number from 1 to 64, got '0'");
}

TEST_CASE("a broken or missing config file stops parse, with 1 under --check and 2 otherwise") {
  test_support::TestDir dir;
  const std::string bad = dir.write("bad.toml", "threads = 1\nthreads = 2\n");
  auto plain = make();
  CHECK_FALSE(parse(plain, {"--config", bad.c_str()}));
  CHECK(plain.exit_code() == 2);
  CHECK_MESSAGE(plain.last_error().starts_with(bad + ":2:"), plain.last_error());
  auto checking = make();
  CHECK_FALSE(parse(checking, {"--config", bad.c_str(), "--check"}));
  CHECK(checking.exit_code() == 1);
  const std::string missing = dir.path("missing.toml");
  auto absent = make();
  CHECK_FALSE(parse(absent, {"--check", "--config", missing.c_str()}));
  CHECK(absent.exit_code() == 1);
  CHECK(absent.last_error() ==
        missing + ": cannot read the configuration file: No such file or directory");
}

TEST_CASE("a reload reads the file again under the same command line") {
  test_support::TestDir dir;
  const std::string file = dir.write("app.toml", "threads = 3\nidle-timeout = 9\n");
  auto args = make();
  REQUIRE(parse(args, {"--config", file.c_str(), "--idle-timeout", "1"}));
  dir.write("app.toml", "threads = 4\n");
  apps::Args next = args;
  std::string error;
  REQUIRE_MESSAGE(apps::load_config(next, error), error);
  CHECK(next.count("threads", 1, 64) == 4u);
  CHECK(next.seconds("idle-timeout") == std::chrono::milliseconds(1000));
  CHECK(args.count("threads", 1, 64) == 3u);  // the copy changed, not the original
}
