// The proxy's [[group]] and [[route]] tables on the real tlsreactor-proxy
// binary: upstreams are peers/upstream_peer.py (python3 http.server) started
// with names, so that /name says which group a request reached and /headers
// what head it arrived with; curl is the client (and peers/reload_peer.py for a
// connection held open across a SIGHUP).
#include <doctest/doctest.h>

#include <csignal>
#include <string>
#include <vector>

#include "tests/integration/Peers.hpp"
#include "tests/integration/ProxyPeers.hpp"
#include "tests/integration/Reload.hpp"
#include "tests/support/TestDir.hpp"

using namespace std::chrono_literals;
using integration::check_run;
using integration::contains;
using integration::curl;
using integration::new_client;
using integration::ProxyServer;
using integration::Upstream;

namespace {

// Three named upstreams and the groups "a", "b" and "c" of one each.
struct ThreeUpstreams {
  Upstream a{"a"}, b{"b"}, c{"c"};

  std::string groups() const {
    std::string out;
    for (const auto& [name, peer] : {std::pair{"a", &a}, std::pair{"b", &b}, std::pair{"c", &c}})
      out += "[[group]]\nname = \"" + std::string(name) + "\"\nupstreams = [\"" + peer->url() +
             "\"]\n";
    return out;
  }
};

// A plain proxy (cleartext, HTTP/1.1 from curl) reading `config`.
ProxyServer plain_proxy(const test_support::TestDir& dir, const std::string& config) {
  return ProxyServer(dir, {"--config", dir.write("proxy.toml", config)}, true);
}

}  // namespace

TEST_CASE(
    "routes send each host to its group: exact name, most specific "
    "wildcard, default") {
  test_support::TestDir dir;
  ThreeUpstreams peers;
  // Over TLS: curl speaks HTTP/2, so the host is the :authority of a stream.
  ProxyServer proxy(dir, {"--config", dir.write("proxy.toml", peers.groups() + R"(
[[route]]
host = "www.example.com"
group = "a"
[[route]]
host = "*.example.com"
group = "b"
[[route]]
host = "*.shop.example.com"
group = "c"
[[route]]
group = "c"
)")});
  const auto name_for = [&](const std::string& host) {
    return curl({"-H", "Host: " + host, proxy.url("/name")});
  };
  CHECK(name_for("www.example.com") == "a\n");
  CHECK(name_for("WWW.Example.com:443") == "a\n");
  CHECK(name_for("api.example.com") == "b\n");
  CHECK(name_for("eu.shop.example.com") == "c\n");
  CHECK(name_for("example.org") == "c\n");
  CHECK(name_for("example.com") == "c\n");  // "*.example.com" is not example.com itself
  proxy.stop();
}

TEST_CASE(
    "routes: the longest path prefix wins, and a rewrite replaces it in "
    "what the upstream sees") {
  test_support::TestDir dir;
  ThreeUpstreams peers;
  ProxyServer proxy = plain_proxy(dir, peers.groups() + R"(
[[route]]
group = "a"
[[route]]
path = "/api"
group = "b"
rewrite-prefix = "/"
[[route]]
path = "/api/v2/"
group = "c"
rewrite-prefix = "/"
)");
  CHECK(curl({proxy.url("/name")}) == "a\n");
  CHECK(curl({proxy.url("/api/name")}) == "b\n");
  CHECK(curl({proxy.url("/api/v2/name")}) == "c\n");
  const std::string seen = curl({proxy.url("/api/v2/headers?x=1")});
  CHECK_MESSAGE(contains(seen, "GET /headers?x=1 HTTP/1.1\n"), seen);
  // "/apiname" is not under "/api" (segment boundary): "/" takes it, path
  // untouched.
  const std::string other = curl({"--include", proxy.url("/apiname")});
  CHECK_MESSAGE(contains(other, "HTTP/1.1 404"),
                other);  // upstream a's own answer
  proxy.stop();
}

TEST_CASE(
    "a route with a method list takes only its methods, the others go to "
    "the route without") {
  test_support::TestDir dir;
  ThreeUpstreams peers;
  ProxyServer proxy = plain_proxy(dir, peers.groups() + R"(
[[route]]
path = "/digest"
methods = ["POST"]
group = "b"
set-response-headers = { "X-Route" = "post" }
[[route]]
path = "/digest"
group = "a"
set-response-headers = { "X-Route" = "any" }
[[route]]
group = "c"
)");
  const std::string post = curl({"--include", "--data-binary", "abc", proxy.url("/digest")});
  CHECK_MESSAGE(contains(post, "x-route: post\r\n"), post);
  const std::string get = curl({"--include", proxy.url("/digest")});
  CHECK_MESSAGE(contains(get, "x-route: any\r\n"), get);
  proxy.stop();
}

TEST_CASE(
    "route header rules set and remove request fields upstream and "
    "response fields downstream") {
  test_support::TestDir dir;
  ThreeUpstreams peers;
  ProxyServer proxy = plain_proxy(dir, peers.groups() + R"(
[[route]]
path = "/headers"
group = "a"
set-request-headers = { "X-Env" = "prod" }
remove-request-headers = ["X-Secret"]
set-response-headers = { "X-Served-By" = "edge" }
remove-response-headers = ["Server"]
[[route]]
group = "a"
)");
  const std::string seen = curl({"--include", "-H", "X-Secret: 1", "-H", "X-Env: dev", "-H",
                                 "X-Kept: yes", proxy.url("/headers")});
  INFO(seen);
  const std::string head = seen.substr(0, seen.find("\r\n\r\n"));
  const std::string body = seen.substr(seen.find("\r\n\r\n"));
  CHECK(contains(body, "\nx-env: prod\n"));
  CHECK_FALSE(contains(body, "X-Env: dev"));
  CHECK_FALSE(contains(body, "X-Secret"));
  CHECK(contains(body, "\nX-Kept: yes\n"));
  CHECK(contains(head, "\r\nx-served-by: edge"));
  CHECK_FALSE(contains(head, "\r\nServer:"));
  // The route without rules passes both as they came.
  const std::string plain = curl({"--include", "-H", "X-Secret: 1", proxy.url("/name")});
  CHECK_MESSAGE(contains(plain, "\r\nServer: upstream_peer"), plain);
  proxy.stop();
}

TEST_CASE(
    "a plain listener with one redirect route sends http:// to https:// "
    "with 301") {
  test_support::TestDir dir;
  ProxyServer proxy = plain_proxy(dir, R"(
[[route]]
redirect = "https://$host$request_uri"
)");
  const std::string out =
      curl({"--include", "-H", "Host: www.example.com:8080", proxy.url("/a/b?x=1")});
  CHECK_MESSAGE(contains(out, "HTTP/1.1 301 "), out);
  CHECK_MESSAGE(contains(out, "\r\nLocation: https://www.example.com/a/b?x=1\r\n"), out);
  proxy.stop();
}

TEST_CASE(
    "a fixed status route answers its body itself, and a host's unknown "
    "path gets 404") {
  test_support::TestDir dir;
  ThreeUpstreams peers;
  ProxyServer proxy = plain_proxy(dir, peers.groups() + R"(
[[route]]
host = "app.example"
path = "/private"
status = 403
body = "denied\n"
[[route]]
host = "app.example"
path = "/name"
group = "a"
[[route]]
group = "b"
)");
  const std::string denied =
      curl({"--include", "-H", "Host: app.example", proxy.url("/private/name")});
  CHECK_MESSAGE(contains(denied, "HTTP/1.1 403 "), denied);
  CHECK_MESSAGE(denied.ends_with("\r\n\r\ndenied\n"), denied);
  CHECK(curl({"-H", "Host: app.example", proxy.url("/name")}) == "a\n");
  // Spellings an upstream may normalise into /private are refused (400), not routed past it.
  for (const char* path : {"/name/../private/x", "/%70rivate/x", "//private/x"}) {
    const std::string odd =
        curl({"--include", "--path-as-is", "-H", "Host: app.example", proxy.url(path)});
    CHECK_MESSAGE(contains(odd, "HTTP/1.1 400 "), odd);
  }
  // app.example has routes, none for "/headers": the default host's are not
  // looked at.
  const std::string none = curl({"--include", "-H", "Host: app.example", proxy.url("/headers")});
  CHECK_MESSAGE(contains(none, "HTTP/1.1 404 "), none);
  CHECK(curl({"-H", "Host: other.example", proxy.url("/name")}) == "b\n");
  proxy.stop();
}

TEST_CASE("proxy --check reports bad route tables with FILE:LINE and exits 1") {
  test_support::TestDir dir;
  const std::string groups =
      "plain = true\n"  // 1
      "[[group]]\nname = \"a\"\nupstreams = "
      "[\"http://127.0.0.1:9\"]\n"  // 2-4
      "[[group]]\nname = \"spare\"\nupstreams = "
      "[\"http://127.0.0.1:9\"]\n";  // 5-7
  const std::string bad = dir.write("bad.toml", groups +
                                                    "[[route]]\ngroup = \"a\"\n"  // 8-9
                                                    "[[route]]\ngroup = \"b\"\n"  // 10-11
                                                    "[[route]]\ngroup = \"a\"\n"  // 12-13
                                                    "[[route]]\npath = \"/x\"\nmethods = "
                                                    "[\"GET\", \"HEAD\"]\ngroup = \"a\"\n"  // 14-17
                                                    "[[route]]\npath = \"/x\"\nmethods = "
                                                    "[\"HEAD\"]\ngroup = \"a\"\n");  // 18-21
  const auto [code, out] = check_run(TLSREACTOR_PROXY_BIN, {"--config", bad});
  CHECK(code == 1);
  CHECK_MESSAGE(contains(out, bad + ":10: route host '(default)' path '/' (any method) names no "
                                    "known group 'b'"),
                out);
  CHECK_MESSAGE(contains(out, bad +
                                  ":12: route host '(default)' path '/' (any method) is the "
                                  "same as the route at " +
                                  bad + ":8"),
                out);
  CHECK_MESSAGE(contains(out, bad +
                                  ":18: route host '(default)' path '/x' (HEAD) can never "
                                  "match: its methods are all taken by the routes at " +
                                  bad + ":14"),
                out);
  CHECK_MESSAGE(contains(out, bad + ":5: warning: no route uses group 'spare'"), out);
  CHECK_FALSE(contains(out, "configuration OK"));

  // Only the warning: the table works, --check says so.
  const std::string good = dir.write("good.toml", groups + "[[route]]\ngroup = \"a\"\n");
  const auto [ok, said] = check_run(TLSREACTOR_PROXY_BIN, {"--config", good});
  CHECK_MESSAGE(ok == 0, said);
  CHECK_MESSAGE(contains(said, good + ":5: warning: no route uses group 'spare'"), said);
  CHECK_MESSAGE(contains(said, "configuration OK"), said);
}

TEST_CASE(
    "SIGHUP swaps the proxy's whole route table for new requests, on connections opened "
    "before it too") {
  const integration::Reloadable setup("");  // the proxy serves TLS without being asked
  Upstream a("a");
  Upstream b("b");
  // /name to `to`, everything else to the other group.
  const auto tables = [&](const std::string& to, const std::string& other) {
    return "[[group]]\nname = \"a\"\nupstreams = [\"" + a.url() +
           "\"]\n[[group]]\nname = " + "\"b\"\nupstreams = [\"" + b.url() +
           "\"]\n[[route]]\npath = \"/name\"\ngroup = \"" + to + "\"\n[[route]]\ngroup = \"" +
           other + "\"\n";
  };
  setup.write_config(tables("a", "b"));
  const auto proxy = setup.start(TLSREACTOR_PROXY_BIN, {"--access-log", "off"});
  CHECK(contains(new_client(*proxy, setup.ca, {"--path", "/name"}), "status: 200\nbody: a\n"));

  auto old = setup.held_client(*proxy, "/name");
  REQUIRE_MESSAGE(old.read_line(20s) == "first: localhost 200 a", old.transcript());

  setup.write_config(tables("b", "a"));
  setup.reload(*proxy);
  CHECK(contains(new_client(*proxy, setup.ca, {"--path", "/name"}), "status: 200\nbody: b\n"));
  // The connection opened before the reload (its TLS session and timeouts are its own) sends
  // its next request by the new table.
  setup.release_held();
  CHECK_MESSAGE(old.read_line(20s) == "second: localhost 200 b", old.transcript());
  integration::check_peer_succeeds(old);
  proxy->stop();
}

TEST_CASE("--redirect-listen answers every request on its plain listener with 301 to https") {
  // Mutations: the Location keeping the Host's port, or the target dropped, fails the first
  // check; a missing Host answered with "https://" alone fails the last.
  test_support::TestDir dir;
  integration::Process proxy({TLSREACTOR_PROXY_BIN, "--plain", "--listen", "127.0.0.1:0",
                              "--upstream", "http://127.0.0.1:9", "--dev-cert-dir",
                              dir.path("proxy"), "--redirect-listen", "127.0.0.1:0"});
  std::string port;
  for (int i = 0; i < 3 && port.empty(); ++i) {
    const auto line = proxy.read_line(20s);
    REQUIRE_MESSAGE(line.has_value(), proxy.transcript());
    const std::string mark = "redirect to https on 127.0.0.1:";
    if (const auto at = line->find(mark); at != std::string::npos)
      port = line->substr(at + mark.size());
  }
  REQUIRE_MESSAGE(!port.empty(), proxy.transcript());
  const std::string url = "http://127.0.0.1:" + port;
  const std::string moved =
      curl({"--include", "--header", "Host: Shop.Example.com:80", url + "/cart/add?item=7"});
  CHECK_MESSAGE(contains(moved, "HTTP/1.1 301 Moved Permanently\r\n"), moved);
  CHECK_MESSAGE(contains(moved, "location: https://shop.example.com/cart/add?item=7\r\n"), moved);
  const std::string post = curl({"--include", "--data", "x=1", url + "/form"});
  CHECK_MESSAGE(contains(post, "location: https://127.0.0.1/form\r\n"), post);
  const std::string no_host = curl({"--include", "--http1.0", "--header", "Host:", url + "/"});
  CHECK_MESSAGE(contains(no_host, "HTTP/1.1 400 Bad Request\r\n"), no_host);
  proxy.signal(SIGTERM);
  CHECK(proxy.wait(30s) == 0);
}
