#include "apps/proxy/RouteConfig.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/common/ConfigFile.hpp"
#include "apps/common/ServerApp.hpp"
#include "apps/proxy/RouteTable.hpp"

namespace {

apps::Args proxy_args() {
  apps::Args args("tlsreactor-proxy", "summary",
                  apps::server_options("127.0.0.1:8443", apps::proxy::proxy_option_list(),
                                       apps::TlsDefault::on));
  args.set_quiet(true);
  args.set_table_keys(apps::proxy::route_table_keys());
  return args;
}

// The proxy's options from `text` read as the file "p.toml" (nullptr with `error` set on a
// problem, either in the file or in its tables).
std::shared_ptr<const apps::proxy::ProxyOptions> options_from(const std::string& text,
                                                              std::string& error) {
  auto args = proxy_args();
  if (!apps::apply_config(args, text, "p.toml", error)) return nullptr;
  return apps::proxy::proxy_options_from(args, error);
}

std::string error_for(const std::string& text) {
  std::string error;
  CHECK_FALSE(options_from(text, error));
  return error;
}

const std::string kGroups = R"(
[[group]]
name = "app"
upstreams = ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]

[[group]]
name = "static"
upstreams = ["http://127.0.0.1:9002/", "http://127.0.0.1:9003"]
)";

}  // namespace

TEST_CASE("[[group]] and [[route]] tables make the route table over one upstream list") {
  std::string error;
  auto options = options_from(kGroups + R"(
[[route]]
host = "www.example.com"
path = "/static/"
group = "static"
rewrite-prefix = "/"
set-response-headers = { "Cache-Control" = "max-age=60" }
remove-request-headers = ["Cookie"]

[[route]]
group = "app"
methods = ["GET", "POST"]

[[route]]
host = "old.example.com"
redirect = "https://www.example.com$request_uri"
redirect-status = 308

[[route]]
path = "/private"
status = 403
body = "no"
)",
                              error);
  REQUIRE_MESSAGE(options, error);
  REQUIRE(options->routes);
  // The two groups share http://127.0.0.1:9002 (written two ways): one pool for it.
  REQUIRE(options->upstreams.size() == 3);
  const auto& groups = options->routes->groups();
  CHECK(groups[0].upstreams == std::vector<std::size_t>{0, 1});
  CHECK(groups[1].upstreams == std::vector<std::size_t>{1, 2});
  CHECK(groups[1].mask == 0b110);

  const auto* stat = options->routes->find("www.example.com", "GET", "/static/a.css");
  REQUIRE(stat);
  CHECK(stat->group == 1);
  CHECK(stat->rewrite_prefix == "/");
  CHECK(stat->response_headers.set[0] ==
        std::pair<std::string, std::string>{"cache-control", "max-age=60"});
  CHECK(stat->request_headers.remove == std::vector<std::string>{"cookie"});
  CHECK(stat->source == "p.toml:10");

  const auto* app = options->routes->find("other.org", "POST", "/x");
  REQUIRE(app);
  CHECK(app->group == 0);
  CHECK(options->routes->find("other.org", "DELETE", "/x") == nullptr);

  const auto* moved = options->routes->find("old.example.com", "GET", "/a");
  REQUIRE(moved);
  CHECK(moved->action == apps::proxy::Route::Action::redirect);
  CHECK(moved->status == 308);

  const auto* denied = options->routes->find("h", "GET", "/private/x");
  REQUIRE(denied);
  CHECK(denied->action == apps::proxy::Route::Action::answer);
  CHECK(denied->status == 403);
  CHECK(denied->body == "no");
}

TEST_CASE("without [[route]] tables there is no route table: today's one pool") {
  std::string error;
  auto options = options_from("upstream = [\"http://127.0.0.1:9001\"]\n", error);
  REQUIRE_MESSAGE(options, error);
  CHECK_FALSE(options->routes);
  CHECK(options->upstreams.size() == 1);
}

TEST_CASE("the --upstream URLs are the group 'default'") {
  std::string error;
  auto options = options_from(R"(
upstream = ["http://127.0.0.1:9001"]
[[route]]
path = "/"
group = "default"
)",
                              error);
  REQUIRE_MESSAGE(options, error);
  REQUIRE(options->routes);
  CHECK(options->routes->groups().back().name == "default");
  CHECK(options->routes->groups().back().upstreams == std::vector<std::size_t>{0});
}

TEST_CASE("route table errors name FILE:LINE, every one of them") {
  const std::string error = error_for(kGroups + R"(
[[route]]
group = "app"

[[route]]
group = "ap"

[[route]]
group = "static"
)");
  CHECK_MESSAGE(error.find("p.toml:13: route host '(default)' path '/' (any method) names no "
                           "known group 'ap'") != std::string::npos,
                error);
  CHECK_MESSAGE(error.find("p.toml:16: route host '(default)' path '/' (any method) is the same "
                           "as the route at p.toml:10") != std::string::npos,
                error);
  CHECK_MESSAGE(error.find("p.toml:13") < error.find("p.toml:16"), error);
}

TEST_CASE("bad keys and values in the tables are errors at their FILE:LINE:COLUMN") {
  CHECK(error_for(kGroups + "[[route]]\ngroup = \"app\"\nhots = \"x\"\n") ==
        "p.toml:11:1: unknown key 'hots' in [[route]]");
  CHECK(error_for(kGroups + "[[route]]\ngroup = \"app\"\nmethods = [\"get\"]\n") ==
        "p.toml:11:11: unknown method 'get' (methods are upper case: GET, ...)");
  CHECK(error_for(kGroups + "[[route]]\ngroup = \"app\"\nstatus = 404\n") ==
        "p.toml:9:1: [[route]] needs exactly one of group, redirect or status");
  CHECK(error_for(kGroups + "[[route]]\nredirect = \"https://x/\"\nredirect-status = 303\n") ==
        "p.toml:11:19: redirect-status must be 301, 302, 307 or 308");
  CHECK(error_for(kGroups + "[[route]]\npath = \"api\"\ngroup = \"app\"\n") ==
        "p.toml:10:8: path must start with '/'");
  CHECK(error_for(kGroups + "[[route]]\ngroup = \"app\"\nset-request-headers = { \"a b\" = \"1\" "
                            "}\n") == "p.toml:11:25: 'a b' is not a header field name");
  CHECK(error_for(kGroups + "[[route]]\ngroup = \"app\"\nset-response-headers = { "
                            "\"Content-Length\" = \"5\" }\n") ==
        "p.toml:11:26: 'Content-Length' is the proxy's own (framing or hop-by-hop): header rules "
        "cannot change it");
  CHECK(error_for(kGroups + "[[route]]\ngroup = \"app\"\nremove-request-headers = "
                            "[\"Transfer-Encoding\"]\n") ==
        "p.toml:11:26: 'Transfer-Encoding' is the proxy's own (framing or hop-by-hop): header "
        "rules cannot change it");
  CHECK(error_for("[[group]]\nname = \"g\"\nupstreams = [\"ftp://x\"]\n[[route]]\ngroup = "
                  "\"g\"\n") ==
        "p.toml:3:14: --upstream ftp://x: the scheme must be http or https");
  CHECK(error_for("[[group]]\nname = \"g\"\nupstreams = [\"http://x:1\"]\n") ==
        "p.toml:1: [[group]] without any [[route]]: add routes, or give the upstreams with "
        "upstream = [...]");
  // One table where an array of tables belongs.
  CHECK(error_for("[route]\ngroup = \"g\"\n") ==
        "p.toml:1:2: 'route' takes [[route]] tables, "
        "got a table");
}

namespace {

// The group "g" of one upstream with `keys` added (from line 4 on), and a route to it.
std::string group_g(const std::string& keys) {
  return "[[group]]\nname = \"g\"\nupstreams = [\"http://x:1\"]\n" + keys +
         "[[route]]\ngroup = \"g\"\n";
}

// That group as read (the file must be good).
apps::proxy::RouteGroup group_g_with(const std::string& keys) {
  std::string error;
  auto options = options_from(group_g(keys), error);
  REQUIRE_MESSAGE(options, error);
  return options->routes->groups()[0];
}

}  // namespace

TEST_CASE("a group's health keys are read, and bad ones are errors at their FILE:LINE:COLUMN") {
  const auto health = group_g_with("fall = 3\nfail-on-5xx = true\nfail-on-timeout = true\n").health;
  CHECK(health.fall == 3);
  CHECK(health.fail_on_5xx);
  CHECK(health.fail_on_timeout);
  // Mutation: reading fall without its lower bound accepts 0 (an upstream down before it failed).
  CHECK(error_for(group_g("fall = 0\n")) == "p.toml:4:8: 'fall' must be an integer from 1 to 1000");
  CHECK(group_g_with("retry-budget = 50\n").retry_budget == 50);
  CHECK(error_for(group_g("retry-budget = 101\n")) ==
        "p.toml:4:16: 'retry-budget' must be an integer from 0 to 100");
  CHECK(error_for(group_g("retries = 64\n")) ==
        "p.toml:4:11: 'retries' must be an integer from 0 to 63");
  CHECK(error_for(group_g("fail-on-5xx = \"yes\"\n")) ==
        "p.toml:4:15: 'fail-on-5xx' must be true or false");
}

TEST_CASE("a group's upstreams are URLs or { url, weight } tables, and weight 0 is an error") {
  const std::string route = "[[route]]\ngroup = \"g\"\n";
  std::string error;
  auto options = options_from(
      "[[group]]\nname = \"g\"\nupstreams = [{ url = \"http://x:1\", "
      "weight = 3 }, \"http://y:1\"]\n" +
          route,
      error);
  REQUIRE_MESSAGE(options, error);
  CHECK(options->routes->groups()[0].weights == std::vector<unsigned>{3, 1});
  // Mutation: a weight read without its lower bound lets 0 through (a member never picked).
  CHECK(error_for("[[group]]\nname = \"g\"\nupstreams = [{ url = \"http://x:1\", weight = 0 }]\n" +
                  route) == "p.toml:3:45: 'weight' must be an integer from 1 to 1000");
  CHECK(error_for("[[group]]\nname = \"g\"\nupstreams = [{ url = \"http://x:1\", wieght = 2 }]\n" +
                  route) == "p.toml:3:36: unknown key 'wieght' in an upstream");
  CHECK(error_for("[[group]]\nname = \"g\"\nupstreams = [{ weight = 2 }]\n" + route) ==
        "p.toml:3:14: an upstream table needs url = \"URL\"");
}

TEST_CASE("balance and hash-key are checked at their FILE:LINE:COLUMN") {
  const auto hashing = group_g_with("balance = \"hash\"\nhash-key = \"header:X-User\"\n");
  CHECK(hashing.ring != nullptr);
  CHECK(hashing.hash_header == "x-user");
  CHECK(group_g_with("balance = \"least-conn\"\n").least_conn);
  CHECK(error_for(group_g("balance = \"fewest\"\n")) ==
        "p.toml:4:11: balance must be \"round-robin\", \"least-conn\" or \"hash\"");
  // Mutation: accepting "header:" with an empty name hashes every request to one member.
  CHECK(error_for(group_g("balance = \"hash\"\nhash-key = \"header:\"\n")) ==
        "p.toml:5:12: hash-key must be \"client-address\" or \"header:NAME\"");
  CHECK(error_for(group_g("hash-key = \"client-address\"\n")) ==
        "p.toml:1:1: hash-key goes with balance = \"hash\"");
}
