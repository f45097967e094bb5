#include "apps/proxy/UpstreamRoute.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "apps/proxy/Upstreams.hpp"

using apps::proxy::LoopUpstreams;
using apps::proxy::Metrics;
using apps::proxy::ProxyOptions;
using apps::proxy::UpstreamHealth;
using apps::proxy::UpstreamRoute;
using Step = UpstreamRoute::Next::Step;

namespace {

// A loop's side of a set of `n` upstreams (no loop needed: nothing here connects).
struct Set {
  explicit Set(int n) {
    auto made = std::make_shared<ProxyOptions>();
    std::string error;
    for (int i = 0; i < n; ++i)
      made->upstreams.push_back(
          *apps::proxy::UpstreamUrl::parse("http://127.0.0.1:" + std::to_string(9001 + i), error));
    options = made;
    health = std::make_shared<UpstreamHealth>(*options);
    pool = std::make_shared<LoopUpstreams>(options, metrics, health);
  }
  Metrics metrics;
  std::shared_ptr<const ProxyOptions> options;
  std::shared_ptr<UpstreamHealth> health;
  std::shared_ptr<LoopUpstreams> pool;
};

const reactor::Error refused(std::make_error_code(std::errc::connection_refused), "connect");
const reactor::Error reset(std::make_error_code(std::errc::connection_reset), "upstream");

}  // namespace

TEST_CASE("a request moves to another member at most `retries` times, each one counted") {
  // Mutation: retry() not counting down moves on to the third member (no 502).
  Set set(3);
  UpstreamRoute route;
  route.begin(~std::uint64_t{0}, 0, 1);
  const auto first = route.first(*set.pool, 0);
  REQUIRE(first.step == Step::pooled);
  const auto second = route.connect_failed(*set.pool, 0, refused);
  REQUIRE(second.step == Step::pooled);
  CHECK(second.index != first.index);
  const auto third = route.connect_failed(*set.pool, 0, refused);
  CHECK(third.step == Step::answer);
  CHECK(third.status == 502);
  CHECK(set.metrics.upstream_retries.load() == 1);
}

TEST_CASE("a reset before any answer moves a bodiless request on, never one with a body") {
  // Mutation: retrying regardless of has_body sends a request body twice.
  Set set(2);
  UpstreamRoute route;
  route.begin(~std::uint64_t{0}, 0, 1);
  const auto first = route.first(*set.pool, 0);
  const auto again =
      route.lost(*set.pool, 0, reset, Metrics::UpstreamError::closed, false, false, false);
  REQUIRE(again.step == Step::pooled);
  CHECK(again.index != first.index);

  // Fresh sets: the reset above took its upstream down (fall 1), which would leave no member
  // to retry on, body or not.
  Set body_set(2);
  route.begin(~std::uint64_t{0}, 0, 1);
  route.first(*body_set.pool, 0);
  const auto with_body =
      route.lost(*body_set.pool, 0, reset, Metrics::UpstreamError::closed, false, false, true);
  CHECK(with_body.step == Step::answer);
  CHECK(with_body.status == 502);
  // Nor once the response had begun (its head may be on its way to the client).
  Set begun_set(2);
  route.begin(~std::uint64_t{0}, 0, 1);
  route.first(*begun_set.pool, 0);
  CHECK(route.lost(*begun_set.pool, 0, reset, Metrics::UpstreamError::closed, false, true, false)
            .step == Step::answer);
}

TEST_CASE("the retry budget allows a percentage of the requests in flight, at least three") {
  apps::proxy::RetryBudget budget(2);
  // Nothing in flight: the floor of three.
  CHECK(budget.take(1, 20, 0));
  CHECK(budget.take(1, 20, 0));
  CHECK(budget.take(1, 20, 0));
  CHECK_FALSE(budget.take(1, 20, 0));
  CHECK(budget.take(0, 20, 0));  // another lane has its own
  // 20 % of 50 in flight: ten.
  for (int i = 3; i < 10; ++i) CHECK(budget.take(1, 20, 50));
  CHECK_FALSE(budget.take(1, 20, 50));
  budget.give_back(1);
  CHECK(budget.take(1, 20, 50));
}

TEST_CASE("a request holds its retry slot until it ends, and the spent budget refuses the next") {
  // Mutation: not taking a slot (or giving it back at once) lets the fourth retry through.
  Set set(10);
  std::vector<std::unique_ptr<UpstreamRoute>> routes;
  const auto retrying = [&] {
    auto& route = *routes.emplace_back(std::make_unique<UpstreamRoute>());
    route.begin(~std::uint64_t{0}, 0, 1, 20);
    REQUIRE(route.first(*set.pool, 0).step == Step::pooled);
    return route.connect_failed(*set.pool, 0, refused);
  };
  for (int i = 0; i < 3; ++i) CHECK(retrying().step == Step::pooled);
  const auto refused_by_budget = retrying();
  CHECK(refused_by_budget.step == Step::answer);
  CHECK(set.metrics.upstream_retries_refused.load() == 1);
  routes.front()->begin();  // the first request ended: its slot is free
  CHECK(retrying().step == Step::pooled);
  CHECK(set.pool->retry_budget()->taken(0) == 3);
  routes.clear();
  CHECK(set.pool->retry_budget()->taken(0) == 0);
}
