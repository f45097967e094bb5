#include "apps/proxy/Upstreams.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "apps/proxy/ProxyOptions.hpp"
#include "reactor/Loop.hpp"

using apps::proxy::Balancer;
using apps::proxy::ProxyOptions;
using apps::proxy::UpstreamHealth;
using apps::proxy::UpstreamUrl;

namespace {

// Options with upstreams 0, 1 and 2 and the default down time (10 s).
ProxyOptions three_upstreams() {
  ProxyOptions options;
  std::string error;
  for (const char* url :
       {"http://127.0.0.1:8081", "http://127.0.0.1:8082", "http://127.0.0.1:8083"})
    options.upstreams.push_back(*UpstreamUrl::parse(url, error));
  return options;
}

// Picks `n` times at `now` with nothing tried yet.
std::vector<std::size_t> picks(Balancer& balancer, std::uint64_t now, int n) {
  std::vector<std::size_t> out;
  for (int i = 0; i < n; ++i) out.push_back(balancer.pick(now, 0).value_or(99));
  return out;
}

}  // namespace

TEST_CASE("upstream URLs: scheme, host and port, with the scheme's default port") {
  std::string error;
  auto plain = UpstreamUrl::parse("http://127.0.0.1:8081", error);
  REQUIRE(plain);
  CHECK_FALSE(plain->tls);
  CHECK(plain->target.host == "127.0.0.1");
  CHECK(plain->target.port == 8081);
  CHECK(plain->text == "http://127.0.0.1:8081");
  auto secure = UpstreamUrl::parse("HTTPS://Backend.Example/", error);
  REQUIRE(secure);
  CHECK(secure->tls);
  CHECK(secure->target.host == "backend.example");
  CHECK(secure->target.port == 443);
  auto v6 = UpstreamUrl::parse("http://[::1]:9000", error);
  REQUIRE(v6);
  CHECK(v6->target.host == "::1");
  CHECK(v6->text == "http://[::1]:9000");
  auto v6_default = UpstreamUrl::parse("http://[::1]", error);
  REQUIRE(v6_default);
  CHECK(v6_default->target.port == 80);
}

TEST_CASE("bad upstream URLs are refused with the reason") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"127.0.0.1:80", "expected http://HOST:PORT"},
      {"ftp://h:21", "the scheme must be http or https"},
      {"http://h:80/path", "only HOST:PORT may follow the scheme"},
      {"http://user@h:80", "only HOST:PORT may follow the scheme"},
      {"http://", "no host"},
      {"http://h:99999", "a port from 1 to 65535"},
      {"http://h:0", "a port from 1 to 65535"},
  };
  for (const auto& [url, reason] : cases) {
    std::string error;
    CHECK_FALSE(UpstreamUrl::parse(url, error));
    CHECK_MESSAGE(error.find(reason) != std::string::npos, url << " -> " << error);
    CHECK_MESSAGE(error.find(url) != std::string::npos, error);
  }
}

TEST_CASE("each route group's round robin keeps its own turn") {
  // Group 1 is upstreams 0 and 1, group 2 is upstream 2; their requests alternate. One shared
  // turn would give group 1 upstream 0 every time (group 2's pick moves it past 1).
  const auto options = three_upstreams();
  UpstreamHealth health(options);
  Balancer balancer(health, 3);
  const std::uint64_t group1 = 0b011, group2 = 0b100;
  std::vector<std::size_t> firsts;
  for (int i = 0; i < 4; ++i) {
    firsts.push_back(balancer.pick(0, ~group1, 1).value_or(99));
    CHECK(balancer.pick(0, ~group2, 2) == std::optional<std::size_t>(2));
  }
  CHECK(firsts == std::vector<std::size_t>{0, 1, 0, 1});
}

TEST_CASE("the balancer goes round robin over healthy upstreams") {
  const auto options = three_upstreams();
  UpstreamHealth health(options);
  Balancer balancer(health);
  CHECK(picks(balancer, 0, 6) == std::vector<std::size_t>{0, 1, 2, 0, 1, 2});
}

TEST_CASE("weighted round robin spreads the heavy member's turns: weights 3 and 1 go a a b a") {
  // Mutation: ignoring the weights (plain round robin) gives 0 1 0 1.
  const auto options = three_upstreams();
  UpstreamHealth health(options);
  Balancer balancer(health, {{3, 1, 0}});
  CHECK(picks(balancer, 0, 8) == std::vector<std::size_t>{0, 0, 1, 0, 0, 0, 1, 0});
  // A member that goes down drops out of the turns; the rest keep their shares.
  health.failed(0, 0, UpstreamHealth::Failure::connect, "refused");
  CHECK(picks(balancer, 0, 3) == std::vector<std::size_t>{1, 1, 1});
}

TEST_CASE("least connections picks the member with the fewest busy connections, ties in turn") {
  // Mutation: a least-conn lane that ignores busy() goes round robin: 0 1 2.
  const auto options = three_upstreams();
  UpstreamHealth health(options);
  Balancer balancer(health, {{1, 1, 1}}, {true});
  health.busy_changed(0, true);
  health.busy_changed(0, true);
  health.busy_changed(1, true);
  CHECK(picks(balancer, 0, 3) == std::vector<std::size_t>{2, 2, 2});
  health.busy_changed(0, false);
  health.busy_changed(0, false);
  health.busy_changed(1, false);
  // All idle again: the weighted turn decides among the tied.
  CHECK(picks(balancer, 0, 3) == std::vector<std::size_t>{0, 1, 2});
}

TEST_CASE("an upstream marked down by one loop is skipped by every loop's balancer") {
  // Mutation: a per-balancer down time (the state before this health) leaves `other` picking 1.
  const auto options = three_upstreams();
  UpstreamHealth health(options);
  Balancer one(health);
  Balancer other(health);
  health.failed(1, 1000, UpstreamHealth::Failure::connect, "refused");
  CHECK(picks(one, 5000, 4) == std::vector<std::size_t>{0, 2, 0, 2});
  CHECK(picks(other, 5000, 4) == std::vector<std::size_t>{0, 2, 0, 2});
}

TEST_CASE("a request's retries skip the upstreams it tried, and none is left when all failed") {
  const auto options = three_upstreams();
  UpstreamHealth health(options);
  Balancer balancer(health);
  std::uint64_t tried = 0;
  const auto first = balancer.pick(0, tried);
  REQUIRE(first);
  tried |= 1U << *first;
  health.failed(*first, 0, UpstreamHealth::Failure::connect, "refused");
  const auto second = balancer.pick(0, tried);
  REQUIRE(second);
  CHECK(*second != *first);
  tried |= 1U << *second;
  const auto third = balancer.pick(0, tried);
  REQUIRE(third);
  CHECK(*third != *first);
  CHECK(*third != *second);
  tried |= 1U << *third;
  CHECK_FALSE(balancer.pick(0, tried));
  // Everything down: no pick even for a fresh request, until the down time passes.
  health.failed(*second, 0, UpstreamHealth::Failure::connect, "refused");
  health.failed(*third, 0, UpstreamHealth::Failure::connect, "refused");
  CHECK_FALSE(balancer.pick(5000, 0));
  CHECK(balancer.pick(10000, 0));
}

TEST_CASE("idle connections beyond the pool limit close only after a sweep interval unused") {
  using apps::proxy::IdleSurplus;
  IdleSurplus surplus(2);
  // The first sweep knows nothing of the interval before it: nothing closes.
  CHECK(surplus.sweep(5) == 0);
  // Steady load: the pool swings between empty and five idle, every connection is needed.
  for (int round = 0; round < 3; ++round) {
    surplus.fell_to(0);
    CHECK(surplus.sweep(5) == 0);
  }
  // Unused for a whole interval: all but the limit close (the least recently used ones).
  CHECK(surplus.sweep(5) == 3);
  // Within the limit nothing closes, whatever the history.
  CHECK(surplus.sweep(2) == 0);
  CHECK(surplus.sweep(1) == 0);
}

TEST_CASE("a sweep closes no more idle connections than stayed unused through its interval") {
  using apps::proxy::IdleSurplus;
  IdleSurplus surplus(2);
  CHECK(surplus.sweep(6) == 0);
  // Four of the six were taken at the busiest moment, and two came back with two new ones:
  // only the two never taken were surplus all along, and they are all that closes.
  surplus.fell_to(2);
  CHECK(surplus.sweep(6) == 2);
  // The four left are past the limit by two; unused for the next interval, those two close.
  CHECK(surplus.sweep(4) == 2);
  // No limit past zero: pooling off closes every idle connection unused for an interval.
  IdleSurplus none(0);
  CHECK(none.sweep(3) == 0);
  CHECK(none.sweep(3) == 3);
}

TEST_CASE("each loop has its own pool of an upstream set, even two loops on one thread") {
  using apps::proxy::Upstreams;
  apps::proxy::Metrics metrics;
  auto options = std::make_shared<apps::proxy::ProxyOptions>();
  std::string error;
  options->upstreams.push_back(*UpstreamUrl::parse("http://127.0.0.1:8081", error));
  auto set = std::make_shared<const Upstreams>(options, metrics);
  reactor::Loop first;
  reactor::Loop second;
  // One loop asks twice: the same pool. Another loop on this same thread: a pool of its own
  // (a thread_local registry would hand both loops one pool, and connections of one loop to
  // exchanges of the other).
  CHECK(&set->on_loop(first) == &set->on_loop(first));
  CHECK(&set->on_loop(first) != &set->on_loop(second));
  // A reload's new set gets a new pool on the same loop; the old one's stays while it lives.
  auto reloaded = std::make_shared<const Upstreams>(options, metrics);
  CHECK(&reloaded->on_loop(first) != &set->on_loop(first));
  CHECK(first.close() == 0);
  CHECK(second.close() == 0);
}
