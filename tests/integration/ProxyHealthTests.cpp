// Upstream health on the real tlsreactor-proxy binary: peers/upstream_peer.py upstreams killed
// and revived, curl as the client, the admin endpoint's /metrics and the proxy's log as the
// evidence. Events and counts only: every wait is for a log line, bounded by a generous guard.
#include <doctest/doctest.h>

#include <csignal>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/Peers.hpp"
#include "tests/integration/ProxyPeers.hpp"
#include "tests/support/TestDir.hpp"

using namespace std::chrono_literals;
using integration::AppServer;
using integration::contains;
using integration::curl;
using integration::occurrences;
using integration::Upstream;

namespace {

// peers/upstream_peer.py named `name` on a port of its own that it takes again when revived.
class Revivable {
 public:
  explicit Revivable(std::string name) : name_(std::move(name)) { revive(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void kill() {
    process_->signal(SIGTERM);
    REQUIRE(process_->wait(20s).has_value());
    process_.reset();
  }
  void revive() {
    process_.emplace(
        std::vector<std::string>{"python3", std::string(TLSREACTOR_PEERS_DIR) + "/upstream_peer.py",
                                 "--name", name_, "--port", std::to_string(port_)});
    const auto line = process_->read_line(20s);
    REQUIRE_MESSAGE(line.has_value(), process_->transcript());
  }

 private:
  std::string name_;
  std::uint16_t port_ = integration::closed_port();
  std::optional<integration::Process> process_;
};

// A plain proxy on `threads` loops reading `config`, with the admin endpoint on.
class HealthProxy : public AppServer {
 public:
  HealthProxy(const test_support::TestDir& dir, const std::string& config, unsigned threads,
              std::vector<std::string> options = {})
      : AppServer(TLSREACTOR_PROXY_BIN, with(dir, config, std::move(options)), "127.0.0.1:0",
                  threads) {
    const auto line = process().read_line(20s);
    REQUIRE_MESSAGE(line.has_value(), process().transcript());
    std::smatch m;
    REQUIRE(std::regex_match(*line, m, std::regex(R"(.*admin on 127\.0\.0\.1:(\d+))")));
    admin_ = m[1];
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + port_text() + path;
  }
  std::string metrics() { return curl({"http://127.0.0.1:" + admin_ + "/metrics"}); }

 private:
  static std::vector<std::string> with(const test_support::TestDir& dir, const std::string& config,
                                       std::vector<std::string> options) {
    options.insert(options.begin(),
                   {"--plain", "--dev-cert-dir", dir.path("proxy"), "--access-log", "off",
                    "--admin", "127.0.0.1:0", "--config", dir.write("proxy.toml", config)});
    return options;
  }
  std::string admin_;
};

std::string up_sample(const std::string& group, const std::string& url, int value) {
  return "tlsreactor_proxy_upstream_up{group=\"" + group + "\",upstream=\"" + url + "\"} " +
         std::to_string(value) + "\n";
}

// Sends GET /name until the proxy's log holds `line` (at most `bound` requests); every answer
// must be a 200 from one of the upstreams. Returns how many went out.
int requests_until(HealthProxy& proxy, const std::string& line, int bound) {
  for (int sent = 1; sent <= bound; ++sent) {
    const std::string out = curl({"--write-out", " %{http_code}\n", proxy.url("/name")});
    CHECK_MESSAGE((out == "a\n 200\n" || out == "b\n 200\n"), out);
    if (contains(proxy.process().transcript(), line)) return sent;
    std::this_thread::sleep_for(50ms);  // pacing only: the down time must pass in between
  }
  FAIL("no '" << line << "' after " << bound << " requests\n" << proxy.process().transcript());
  return bound;
}

}  // namespace

TEST_CASE(
    "an upstream killed and revived goes down once for every loop and comes back, and "
    "no request fails meanwhile") {
  // Mutations: a per-loop down state (the balancer's before) logs "is down" once per loop that
  // met it and leaves the gauge at 1; answered() not moving the state back never logs "is up".
  test_support::TestDir dir;
  Upstream a("a");
  Revivable b("b");
  const std::string b_url = b.url();
  HealthProxy proxy(dir,
                    "[[group]]\nname = \"app\"\nupstreams = [\"" + a.url() + "\", \"" + b_url +
                        "\"]\n[[route]]\ngroup = \"app\"\n",
                    2, {"--upstream-down-time", "1"});
  CHECK(contains(proxy.metrics(), up_sample("app", b_url, 1)));

  b.kill();
  requests_until(proxy, "upstream " + b_url + " of group app is down: 1 connect failure", 40);
  CHECK(contains(proxy.metrics(), up_sample("app", b_url, 0)));
  CHECK(contains(proxy.metrics(), up_sample("app", a.url(), 1)));

  b.revive();
  requests_until(proxy, "upstream " + b_url + " of group app is up", 400);
  CHECK(contains(proxy.metrics(), up_sample("app", b_url, 1)));
  proxy.stop();
  const std::string log = proxy.process().transcript();
  CHECK_MESSAGE(occurrences(log, " is down: ") == 1, log);
  CHECK_MESSAGE(occurrences(log, " is up: ") == 1, log);
}

TEST_CASE("with every member of a group down the proxy answers 503 at once, saying why") {
  // Mutation: first() ignoring the health (picking a down member) connects again: a 502 and a
  // third refused connect in the counters instead of the 503.
  test_support::TestDir dir;
  const std::string a = "http://127.0.0.1:" + std::to_string(integration::closed_port());
  const std::string b = "http://127.0.0.1:" + std::to_string(integration::closed_port());
  HealthProxy proxy(dir,
                    "[[group]]\nname = \"app\"\nupstreams = [\"" + a + "\", \"" + b +
                        "\"]\n[[route]]\ngroup = \"app\"\n",
                    1);
  const std::string first = curl({"--write-out", "%{http_code}\n", proxy.url("/")});
  CHECK_MESSAGE(first.ends_with("\n502\n"), first);
  const std::string second = curl({"--write-out", "%{http_code}\n", proxy.url("/")});
  CHECK_MESSAGE(second.ends_with("\n503\n"), second);
  CHECK_MESSAGE(contains(second, "no healthy upstream: " + a + " is down (connect failures)"),
                second);
  CHECK_MESSAGE(contains(second, b + " is down (connect failures)"), second);
  const std::string metrics = proxy.metrics();
  CHECK_MESSAGE(contains(metrics, "tlsreactor_proxy_upstream_errors_total{kind=\"refused\"} 2\n"),
                metrics);
  CHECK(contains(metrics, up_sample("app", a, 0)));
  CHECK(contains(metrics, up_sample("app", b, 0)));
  proxy.stop();
}

TEST_CASE("weighted round robin splits requests exactly as the weights say") {
  // Mutation: Balancer ignoring the weights alternates a b a b.
  test_support::TestDir dir;
  Upstream a("a");
  Upstream b("b");
  HealthProxy proxy(dir,
                    "[[group]]\nname = \"app\"\nupstreams = [{ url = \"" + a.url() +
                        "\", weight = 3 }, \"" + b.url() + "\"]\n[[route]]\ngroup = \"app\"\n",
                    1);
  std::vector<std::string> urls(8, proxy.url("/name"));
  CHECK(curl(urls) == "a\na\nb\na\na\na\nb\na\n");
  proxy.stop();
}

TEST_CASE("a bodiless request an upstream closes on is retried on another member, a POST is not") {
  // Mutation: lost() not retrying answers the first GET 502; retrying regardless of the body
  // answers the POST 200 (and sends its body twice).
  test_support::TestDir dir;
  Upstream good("good");
  // Takes each connection, sends nothing and closes its side: "closed before responding".
  integration::Process closer = integration::python_peer("tcp_peer.py", {"speak", "0"});
  const auto line = closer.read_line(20s);
  REQUIRE_MESSAGE(line.has_value(), closer.transcript());
  const std::string closer_url = "http://" + line->substr(line->rfind(' ') + 1);
  // fall = 100: the closer stays up, so the turns (one loop, smooth round robin) go closer,
  // good, closer: the GET meets it first, the POST third.
  HealthProxy proxy(dir,
                    "[[group]]\nname = \"app\"\nfall = 100\nretries = 1\nupstreams = [\"" +
                        closer_url + "\", \"" + good.url() + "\"]\n[[route]]\ngroup = \"app\"\n",
                    1);
  CHECK(curl({"--write-out", " %{http_code}\n", proxy.url("/name")}) == "good\n 200\n");
  CHECK(curl({"--write-out", " %{http_code}\n", proxy.url("/name")}) == "good\n 200\n");
  const std::string post =
      curl({"--data-binary", "body", "--write-out", " %{http_code}\n", proxy.url("/name")});
  CHECK_MESSAGE(post.ends_with(" 502\n"), post);
  CHECK_MESSAGE(contains(post, "closed before responding"), post);
  CHECK(contains(proxy.metrics(), "tlsreactor_proxy_upstream_retries_total 1\n"));
  proxy.stop();
}

TEST_CASE(
    "hashing on a header sends each key to the same member across a restart, and removing "
    "a member moves only its keys") {
  // Mutation: a ring seeded per process (or built from pointers) maps keys differently in the
  // second run; a modulo mapping moves keys of a and c when b goes.
  test_support::TestDir dir;
  Upstream a("a"), b("b"), c("c");
  const auto config = [&](const std::vector<std::string>& urls) {
    std::string list;
    for (const auto& url : urls) list += (list.empty() ? "\"" : ", \"") + url + "\"";
    return "[[group]]\nname = \"app\"\nbalance = \"hash\"\nhash-key = \"header:X-User\"\n"
           "upstreams = [" +
           list + "]\n[[route]]\ngroup = \"app\"\n";
  };
  const auto names = [](HealthProxy& proxy) {
    std::vector<std::string> out;
    for (int user = 0; user < 12; ++user)
      out.push_back(curl({"-H", "X-User: user-" + std::to_string(user), proxy.url("/name")}));
    return out;
  };
  std::vector<std::string> first, second, without_b;
  {
    HealthProxy proxy(dir, config({a.url(), b.url(), c.url()}), 2);
    first = names(proxy);
    proxy.stop();
  }
  {
    HealthProxy proxy(dir, config({c.url(), a.url(), b.url()}), 2);  // listed in another order
    second = names(proxy);
    proxy.stop();
  }
  {
    HealthProxy proxy(dir, config({a.url(), c.url()}), 2);
    without_b = names(proxy);
    proxy.stop();
  }
  CHECK(first == second);
  int on_b = 0;
  for (std::size_t i = 0; i < first.size(); ++i) {
    if (first[i] == "b\n")
      ++on_b;
    else
      CHECK_MESSAGE(without_b[i] == first[i], "user-" << i);
    CHECK(without_b[i] != "b\n");
  }
  CHECK_MESSAGE(on_b > 0, "no key on b: the check of what moves proves little");
}

TEST_CASE("least connections sends new requests past a member busy with a held request") {
  // Mutation: a least-conn lane ignoring the busy counts goes round robin: b a b a.
  test_support::TestDir dir;
  Upstream a("a");
  Upstream b("b");
  HealthProxy proxy(dir,
                    "[[group]]\nname = \"app\"\nbalance = \"least-conn\"\nupstreams = [\"" +
                        a.url() + "\", \"" + b.url() + "\"]\n[[route]]\ngroup = \"app\"\n",
                    1);
  // Held by a (both idle: the turn's first) until the file exists.
  const std::string release = dir.path("release");
  integration::Process held(
      {"curl", "--silent", "--max-time", "60", proxy.url("/until?file=" + release)});
  const auto line = a.process().read_line(30s);
  REQUIRE_MESSAGE((line && contains(*line, "received /until")), a.process().transcript());
  CHECK(curl({proxy.url("/name"), proxy.url("/name"), proxy.url("/name"), proxy.url("/name")}) ==
        "b\nb\nb\nb\n");
  dir.write("release", "");
  CHECK(integration::output_of(held) == "released\n");
  proxy.stop();
}

TEST_CASE(
    "active health checks take a killed upstream out before any request meets it, and bring "
    "it back once it passes them") {
  // Mutations: no checks (HealthChecks::watch ignoring the config) never logs "is down: 2 failed
  // checks"; a checked upstream usable again after the down time, as an unchecked one is
  // (usable() ignoring policy.active()), lets requests meet the dead member between two checks:
  // each one then moves on to a, and upstream_retries_total counts it.
  test_support::TestDir dir;
  Upstream a("a");
  Revivable b("b");
  const std::string b_url = b.url();
  HealthProxy proxy(dir,
                    "[[group]]\nname = \"app\"\nupstreams = [\"" + a.url() + "\", \"" + b_url +
                        "\"]\nhealth-check-path = \"/name\"\nhealth-check-interval = 2\n"
                        "health-check-timeout = 10\nrise = 2\nfall = 2\n"
                        "[[route]]\ngroup = \"app\"\n",
                    2, {"--upstream-down-time", "1"});
  const std::string checked = "tlsreactor_proxy_upstream_check_seconds{group=\"app\",upstream=\"";

  b.kill();
  REQUIRE_MESSAGE(
      proxy.process().wait_for_stderr(
          "upstream " + b_url + " of group app is down: 2 failed checks in a row", 1, 60s),
      proxy.process().transcript());
  std::string metrics = proxy.metrics();
  CHECK_MESSAGE(contains(metrics, up_sample("app", b_url, 0)), metrics);
  CHECK_MESSAGE(contains(metrics, checked + a.url() + "\"} "), metrics);
  CHECK_MESSAGE(contains(metrics, checked + b_url + "\"} "), metrics);
  // Past the down time, while b stays dead: every request goes to a at once.
  for (int i = 0; i < 30; ++i) {
    const std::string out = curl({"--write-out", " %{http_code}\n", proxy.url("/name")});
    CHECK_MESSAGE(out == "a\n 200\n", out);
    std::this_thread::sleep_for(100ms);  // pacing only: spread over more than a check interval
  }
  metrics = proxy.metrics();
  CHECK_MESSAGE(contains(metrics, "tlsreactor_proxy_upstream_retries_total 0\n"), metrics);

  b.revive();
  REQUIRE_MESSAGE(
      proxy.process().wait_for_stderr(
          "upstream " + b_url + " of group app is up: 2 checks passed in a row", 1, 60s),
      proxy.process().transcript());
  CHECK(contains(proxy.metrics(), up_sample("app", b_url, 1)));
  bool reached_b = false;
  for (int i = 0; i < 10 && !reached_b; ++i)
    reached_b = curl({"--write-out", " %{http_code}\n", proxy.url("/name")}) == "b\n 200\n";
  CHECK(reached_b);
  proxy.stop();
}

TEST_CASE("proxy --check refuses health check keys without a path, or with bad values") {
  test_support::TestDir dir;
  const auto check = [&dir](const std::string& keys) {
    auto p = integration::Process(
        {TLSREACTOR_PROXY_BIN, "--plain", "--check", "--config",
         dir.write("bad.toml", "[[group]]\nname = \"g\"\nupstreams = [\"http://127.0.0.1:9\"]\n" +
                                   keys + "[[route]]\ngroup = \"g\"\n")});
    const auto code = p.wait(20s);
    CHECK(code == 1);
    return p.transcript();
  };
  CHECK(contains(check("rise = 3\n"), "bad.toml:1:1: rise goes with health-check-path"));
  CHECK(contains(check("health-check-path = \"health\"\n"),
                 "bad.toml:4:21: health-check-path must start with '/'"));
  CHECK(contains(check("health-check-path = \"/h\"\nhealth-check-interval = 0\n"),
                 "bad.toml:5:25: 'health-check-interval' must be seconds"));
}

TEST_CASE("least connections counts long-held WebSocket tunnels: new requests go past them") {
  // Three tunnels on two members: one holds two, the other one. Mutation: a least-conn lane
  // ignoring the busy counts goes round robin and the four requests alternate.
  test_support::TestDir dir;
  Upstream a("a");
  Upstream b("b");
  HealthProxy proxy(dir,
                    "[[group]]\nname = \"app\"\nbalance = \"least-conn\"\nupstreams = [\"" +
                        a.url() + "\", \"" + b.url() + "\"]\n[[route]]\ngroup = \"app\"\n",
                    2);
  std::vector<std::unique_ptr<integration::Process>> tunnels;
  for (int i = 0; i < 3; ++i) {
    tunnels.push_back(std::make_unique<integration::Process>(
        std::vector<std::string>{"python3", std::string(TLSREACTOR_PEERS_DIR) + "/ws_client.py",
                                 "wait-close", "--port", proxy.port_text()}));
    const auto open = tunnels.back()->read_line(30s);
    REQUIRE_MESSAGE((open && *open == "open"), tunnels.back()->transcript());
  }
  const std::string answers =
      curl({proxy.url("/name"), proxy.url("/name"), proxy.url("/name"), proxy.url("/name")});
  REQUIRE_MESSAGE((answers == "a\na\na\na\n" || answers == "b\nb\nb\nb\n"), answers);
  // The one they went to holds one tunnel, the other two.
  Upstream& fewer = answers[0] == 'a' ? a : b;
  Upstream& more = answers[0] == 'a' ? b : a;
  for (int i = 0; i < 2; ++i) {
    const auto line = more.process().read_line(30s);
    CHECK_MESSAGE((line && *line == "upgraded /ws"), more.process().transcript());
  }
  const auto line = fewer.process().read_line(30s);
  CHECK_MESSAGE((line && *line == "upgraded /ws"), fewer.process().transcript());
  for (auto& tunnel : tunnels) tunnel->signal(SIGTERM);
  proxy.stop();
}

TEST_CASE("active checks of an https group go over TLS, verified as requests are") {
  // Mutation: a check made over plain TCP fails both (the hello upstream answers TLS only);
  // one made without verification passes the second proxy's checks and never logs the line.
  test_support::TestDir dir;
  integration::HelloServer hello({"--tls", "--dev-cert-dir", dir.path("hello")});
  const std::string upstream = "https://localhost:" + hello.port_text();
  const std::string config = "[[group]]\nname = \"app\"\nupstreams = [\"" + upstream +
                             "\"]\nhealth-check-path = \"/\"\nhealth-check-interval = 0.5\n"
                             "fall = 2\n[[route]]\ngroup = \"app\"\n";
  const std::string gauge =
      "tlsreactor_proxy_upstream_check_seconds{group=\"app\",upstream=\"" + upstream + "\"} ";
  {
    HealthProxy verified(dir, config, 1, {"--upstream-ca", dir.path("hello/ca.pem")});
    // Checks run from the start: wait for one to have been timed, then for its answer.
    std::string metrics;
    for (int i = 0; i < 200 && !contains(metrics, gauge); ++i) {
      metrics = verified.metrics();
      if (!contains(metrics, gauge)) std::this_thread::sleep_for(50ms);  // polling, bounded
    }
    CHECK_MESSAGE(contains(metrics, gauge), metrics);
    CHECK(contains(metrics, up_sample("app", upstream, 1)));
    CHECK(curl({verified.url("/")}) == "hello from tlsreactor\n");
    verified.stop();
    CHECK(occurrences(verified.process().transcript(), " is down: ") == 0);
  }
  HealthProxy unverified(dir, config, 1);  // the system store does not know hello's CA
  CHECK_MESSAGE(
      unverified.process().wait_for_stderr(
          "upstream " + upstream + " of group app is down: 2 failed checks in a row", 1, 60s),
      unverified.process().transcript());
  CHECK(contains(unverified.process().transcript(), "certificate verify failed"));
  unverified.stop();
  hello.stop();
}
