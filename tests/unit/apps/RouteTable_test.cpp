#include "apps/proxy/RouteTable.hpp"

#include "apps/proxy/HeaderRewrite.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using apps::proxy::expand_location;
using apps::proxy::method_bit;
using apps::proxy::rewrite_target;
using apps::proxy::Route;
using apps::proxy::RouteGroup;
using apps::proxy::RouteTable;

namespace {

RouteGroup group(const std::string& name, int line) {
  RouteGroup g;
  g.name = name;
  g.source = "t.toml:" + std::to_string(line);
  return g;
}

Route proxy(const std::string& host, const std::string& path, const std::string& to, int line,
            std::uint16_t methods = 0) {
  Route r;
  r.host = host;
  r.path = path;
  r.group_name = to;
  r.methods = methods;
  r.source = "t.toml:" + std::to_string(line);
  return r;
}

// The line of the route a request gets ("none" when it gets none).
std::string routed(const RouteTable& table, std::string_view host, std::string_view target,
                   std::string_view method = "GET") {
  const Route* route = table.find(host, method, target);
  return route == nullptr ? "none" : route->source.substr(7);
}

std::shared_ptr<const RouteTable> built(std::vector<RouteGroup> groups, std::vector<Route> routes,
                                        std::vector<RouteTable::Problem>& problems) {
  return RouteTable::build(std::move(groups), std::move(routes), problems);
}

bool has_problem(const std::vector<RouteTable::Problem>& problems, bool error,
                 const std::string& part) {
  for (const auto& p : problems)
    if (p.error == error && p.text.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("routes pick the exact host, then the most specific wildcard, then the default") {
  std::vector<RouteTable::Problem> problems;
  auto table = built({group("a", 1)},
                     {proxy("www.example.com", "/", "a", 10), proxy("*.example.com", "/", "a", 11),
                      proxy("*.api.example.com", "/", "a", 12), proxy("", "/", "a", 13)},
                     problems);
  REQUIRE(table);
  CHECK(problems.empty());
  CHECK(routed(*table, "www.example.com", "/") == "10");
  CHECK(routed(*table, "WWW.Example.COM:8443", "/x") == "10");  // any case, port dropped
  CHECK(routed(*table, "www.example.com.", "/") == "10");       // the root's trailing dot too
  CHECK(routed(*table, "shop.example.com", "/") == "11");
  CHECK(routed(*table, "a.b.example.com", "/") == "11");
  CHECK(routed(*table, "v1.api.example.com", "/") == "12");  // the longer suffix wins
  CHECK(routed(*table, "example.com", "/") == "13");         // "*.x" is not "x" itself
  CHECK(routed(*table, "other.org", "/") == "13");
  CHECK(routed(*table, "", "/") == "13");  // HTTP/1.0 without Host
  CHECK(routed(*table, "[::1]:8443", "/") == "13");
}

TEST_CASE("the longest path prefix wins, on segment boundaries") {
  std::vector<RouteTable::Problem> problems;
  auto table = built({group("a", 1)},
                     {proxy("", "/", "a", 10), proxy("", "/api", "a", 11),
                      proxy("", "/api/v2", "a", 12), proxy("", "/static/", "a", 13)},
                     problems);
  REQUIRE(table);
  CHECK(routed(*table, "h", "/") == "10");
  CHECK(routed(*table, "h", "/api") == "11");
  CHECK(routed(*table, "h", "/api/") == "11");
  CHECK(routed(*table, "h", "/api?x=/api/v2") == "11");  // the query is not the path
  CHECK(routed(*table, "h", "/apix") == "10");           // not on a segment boundary
  CHECK(routed(*table, "h", "/api/v2/users") == "12");
  CHECK(routed(*table, "h", "/api/v23") == "11");
  CHECK(routed(*table, "h", "/static/app.js") == "13");
  CHECK(routed(*table, "h", "/static") == "10");  // "/static/" asks for the slash
}

// The lookup compares a path's first 8 bytes as one word and the rest byte by byte: a
// difference on either side of that line, and the boundary right after a long prefix.
TEST_CASE("long path prefixes match on every byte, before and after the eighth") {
  std::vector<RouteTable::Problem> problems;
  auto table = built({group("a", 1)},
                     {proxy("", "/", "a", 10), proxy("", "/documents/archive", "a", 11),
                      proxy("", "/documents/", "a", 12), proxy("[::1]", "/", "a", 13)},
                     problems);
  REQUIRE(table);
  CHECK(routed(*table, "h", "/documents/archive") == "11");
  CHECK(routed(*table, "h", "/documents/archive/2020?x") == "11");
  CHECK(routed(*table, "h", "/documents/archivX") == "12");   // differs past byte 8
  CHECK(routed(*table, "h", "/documents/archive2") == "12");  // not a segment boundary
  CHECK(routed(*table, "h", "/documentX/archive") == "10");   // differs within byte 8
  CHECK(routed(*table, "h", "/doc") == "10");                 // shorter than the prefixes
  CHECK(routed(*table, "[::1]:8443", "/x") == "13");          // a literal keeps its brackets
}

TEST_CASE("a host with routes is the request's host even where none of its paths match") {
  std::vector<RouteTable::Problem> problems;
  auto table = built({group("a", 1)},
                     {proxy("api.example.com", "/v1", "a", 10), proxy("", "/", "a", 11)}, problems);
  REQUIRE(table);
  CHECK(routed(*table, "api.example.com", "/v1/x") == "10");
  CHECK(routed(*table, "api.example.com", "/other") == "none");
  CHECK(routed(*table, "www.example.com", "/other") == "11");
}

TEST_CASE("routes with a method list are tried before the one without, on one host and path") {
  std::vector<RouteTable::Problem> problems;
  const auto read = static_cast<std::uint16_t>(method_bit("GET") | method_bit("HEAD"));
  auto table = built({group("a", 1)},
                     {proxy("", "/api", "a", 10), proxy("", "/api", "a", 11, read),
                      proxy("", "/", "a", 12, method_bit("POST"))},
                     problems);
  REQUIRE(table);
  CHECK(problems.empty());
  CHECK(routed(*table, "h", "/api/x", "GET") == "11");
  CHECK(routed(*table, "h", "/api/x", "HEAD") == "11");
  CHECK(routed(*table, "h", "/api/x", "POST") == "10");
  CHECK(routed(*table, "h", "/api/x", "BREW") == "10");  // an unknown method is "any"'s
  CHECK(routed(*table, "h", "/x", "POST") == "12");
  CHECK(routed(*table, "h", "/x", "GET") == "none");
  CHECK(method_bit("get") == 0);  // methods are case-sensitive
}

TEST_CASE("a route naming no group, a duplicate and an unreachable route are errors") {
  std::vector<RouteTable::Problem> problems;
  const auto get = method_bit("GET");
  const auto read = static_cast<std::uint16_t>(method_bit("GET") | method_bit("HEAD"));
  auto table = built({group("a", 1), group("spare", 2)},
                     {proxy("x.com", "/", "a", 10), proxy("x.com", "/", "a", 11),
                      proxy("", "/", "missing", 12), proxy("", "/api", "a", 13, read),
                      proxy("", "/api", "a", 14, get), proxy("", "/b", "a", 15, get),
                      proxy("", "/b", "a", 16, method_bit("HEAD")), proxy("", "/b", "a", 17, read)},
                     problems);
  CHECK_FALSE(table);
  CHECK(has_problem(problems, true,
                    "t.toml:11: route host 'x.com' path '/' (any method) is the "
                    "same as the route at t.toml:10"));
  CHECK(has_problem(problems, true,
                    "t.toml:12: route host '(default)' path '/' (any method) "
                    "names no known group 'missing'"));
  CHECK(has_problem(problems, true,
                    "t.toml:14: route host '(default)' path '/api' (GET) can "
                    "never match: its methods are all taken by the routes at "
                    "t.toml:13"));
  // Covered by two routes together.
  CHECK(has_problem(problems, true,
                    "t.toml:17: route host '(default)' path '/b' (GET,HEAD) can "
                    "never match: its methods are all taken by the routes at "
                    "t.toml:15, t.toml:16"));
  CHECK(has_problem(problems, false, "t.toml:2: warning: no route uses group 'spare'"));
  CHECK(problems.size() == 5);
}

TEST_CASE("an unused group is only a warning") {
  std::vector<RouteTable::Problem> problems;
  auto table = built({group("a", 1), group("b", 2)}, {proxy("", "/", "a", 10)}, problems);
  CHECK(table);
  REQUIRE(problems.size() == 1);
  CHECK_FALSE(problems[0].error);
}

TEST_CASE("a group is resolved to its index for the route") {
  std::vector<RouteTable::Problem> problems;
  auto table = built({group("a", 1), group("b", 2)},
                     {proxy("", "/", "a", 10), proxy("", "/b", "b", 11)}, problems);
  REQUIRE(table);
  CHECK(table->find("h", "GET", "/b/1")->group == 1);
  CHECK(table->find("h", "GET", "/")->group == 0);
}

TEST_CASE("a rewrite replaces the matched prefix and keeps the rest") {
  Route route = proxy("", "/old/", "a", 1);
  std::string out;
  route.rewrite_prefix = "/new/";
  rewrite_target(route, "/old/x?q=1", out);
  CHECK(out == "/new/x?q=1");
  route.path = "/api";
  route.rewrite_prefix = "/";
  rewrite_target(route, "/api/users", out);
  CHECK(out == "/users");
  rewrite_target(route, "/api", out);
  CHECK(out == "/");
  rewrite_target(route, "/api?x", out);
  CHECK(out == "/?x");
  route.rewrite_prefix = "/v2";
  rewrite_target(route, "/api/users", out);
  CHECK(out == "/v2/users");
  route.rewrite_prefix = "";
  rewrite_target(route, "/api/users", out);
  CHECK(out == "/users");
}

TEST_CASE("a redirect's location takes the request's host and target") {
  Route route;
  route.location = "https://$host$request_uri";
  CHECK(expand_location(route, "Example.com:80", "/a?b=1") == "https://example.com/a?b=1");
  route.location = "https://www.example.com/moved";
  CHECK(expand_location(route, "h", "/x") == "https://www.example.com/moved");
}

TEST_CASE("header rules remove fields and replace those they set, in any case") {
  apps::proxy::HeaderRules rules;
  rules.set = {{"x-backend", "a"}};
  rules.remove = {"server"};
  apps::proxy::HeaderList list;
  list.add("Server", "upstream/1");
  list.add("Content-Type", "text/plain");
  list.add("X-Backend", "old");
  list.add("server", "again");
  apps::proxy::apply_header_rules(rules, list);
  REQUIRE(list.size() == 2);
  CHECK(list.name(0) == "Content-Type");
  CHECK(list.name(1) == "x-backend");
  CHECK(list.value(1) == "a");
}

TEST_CASE("a table of 100 hosts x 10 paths finds every route, wildcards and default included") {
  std::vector<Route> routes;
  for (int h = 0; h < 100; ++h)
    for (int p = 0; p < 10; ++p)
      routes.push_back(proxy("host" + std::to_string(h) + ".example.com", "/p" + std::to_string(p),
                             "a", h * 10 + p));
  routes.push_back(proxy("*.example.com", "/", "a", 5000));
  routes.push_back(proxy("", "/", "a", 5001));
  std::vector<RouteTable::Problem> problems;
  auto table = built({group("a", 1)}, std::move(routes), problems);
  REQUIRE(table);
  CHECK(problems.empty());
  int wrong = 0;
  for (int h = 0; h < 100; ++h)
    for (int p = 0; p < 10; ++p)
      wrong += routed(*table, "host" + std::to_string(h) + ".example.com",
                      "/p" + std::to_string(p) + "/x") != std::to_string(h * 10 + p);
  CHECK(wrong == 0);
  CHECK(routed(*table, "host7.example.com", "/q") == "none");  // its own routes only
  CHECK(routed(*table, "new.example.com", "/p1") == "5000");
  CHECK(routed(*table, "example.org", "/p1") == "5001");
}

TEST_CASE("only paths in normal form are routed: no dot segments, '//' or needless %-encoding") {
  using apps::proxy::is_normal_target;
  for (const char* good : {"/", "/admin", "/a/b/", "/a.b/c..d/.e", "/a%20b", "/%E2%82%AC",
                           "/x?y=/../z", "/%2", "/a%2", "*", "http://h/x/../y"})
    CHECK_MESSAGE(is_normal_target(good), good);
  for (const char* bad : {"/x/../admin", "/x/..", "/./admin", "/x/.", "//admin", "/a//b",
                          "/%61dmin", "/a%2Fb", "/a%2fb", "/%2e%2e/admin", "/a\\b", "/a%5Cb"})
    CHECK_MESSAGE(!is_normal_target(bad), bad);
}

// A thread remembers the last host it looked up, by its bytes and its table: a request to the
// same bytes in another table (a reload's) must not get the first table's routes.
TEST_CASE("two tables looked up in turn on one thread each answer from their own routes") {
  std::vector<RouteTable::Problem> problems;
  auto first = built({group("a", 1)},
                     {proxy("x.example.com", "/", "a", 10), proxy("", "/", "a", 11)}, problems);
  auto second = built({group("a", 1)},
                      {proxy("y.example.com", "/", "a", 20), proxy("", "/", "a", 21)}, problems);
  REQUIRE(first);
  REQUIRE(second);
  for (int round = 0; round < 2; ++round) {
    CHECK(routed(*first, "x.example.com", "/") == "10");
    CHECK(routed(*second, "x.example.com", "/") == "21");
    CHECK(routed(*first, "X.example.com", "/") == "10");
    CHECK(routed(*first, "y.example.com", "/") == "11");
    CHECK(routed(*second, "y.example.com", "/") == "20");
  }
}
