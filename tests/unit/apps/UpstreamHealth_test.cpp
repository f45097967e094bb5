#include "apps/proxy/UpstreamHealth.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "apps/proxy/ProxyOptions.hpp"
#include "apps/proxy/RouteTable.hpp"

using apps::proxy::HealthPolicy;
using apps::proxy::ProxyOptions;
using apps::proxy::UpstreamHealth;
using Failure = UpstreamHealth::Failure;
using State = UpstreamHealth::State;

namespace {

// Two upstreams in one group "app" with `policy`, routed from "/"; down time 10 s.
ProxyOptions group_of_two(const HealthPolicy& policy) {
  ProxyOptions options;
  std::string error;
  for (const char* url : {"http://127.0.0.1:8081", "http://127.0.0.1:8082"})
    options.upstreams.push_back(*apps::proxy::UpstreamUrl::parse(url, error));
  apps::proxy::RouteGroup group;
  group.name = "app";
  group.upstreams = {0, 1};
  group.mask = 0b11;
  group.health = policy;
  apps::proxy::Route route;
  route.group_name = "app";
  std::vector<apps::proxy::RouteTable::Problem> problems;
  options.routes = apps::proxy::RouteTable::build({group}, {route}, problems);
  REQUIRE(options.routes);
  return options;
}

}  // namespace

TEST_CASE(
    "an upstream goes down at the fall-th failure in a row, and an answer restarts the count") {
  // Mutation: answered() not resetting the count takes it down at the third failure overall.
  HealthPolicy policy;
  policy.fall = 3;
  UpstreamHealth health(group_of_two(policy));
  health.failed(0, 0, Failure::connect, "refused");
  health.failed(0, 0, Failure::reset, "reset");
  health.answered(0);
  health.failed(0, 0, Failure::connect, "refused");
  health.failed(0, 0, Failure::connect, "refused");
  CHECK(health.state(0) == State::up);
  health.failed(0, 0, Failure::connect, "refused");
  CHECK(health.state(0) == State::down);
  CHECK(health.state(1) == State::up);
}

TEST_CASE("a down upstream is tried again after the down time, and comes up only by answering") {
  // Mutation: usable() ignoring retry_at keeps it out for ever without active checks.
  UpstreamHealth health(group_of_two(HealthPolicy{}));
  health.failed(1, 1000, Failure::connect, "refused");
  CHECK_FALSE(health.usable(1, 1000));
  CHECK_FALSE(health.usable(1, 10999));
  CHECK(health.usable(1, 11000));
  // The trial fails: out for another down time, from then.
  health.failed(1, 11000, Failure::connect, "refused");
  CHECK_FALSE(health.usable(1, 20000));
  CHECK(health.state(1) == State::down);
  health.answered(1);
  CHECK(health.state(1) == State::up);
  CHECK(health.usable(1, 20000));
}

TEST_CASE("5xx answers and response timeouts count as the group's policy says") {
  HealthPolicy counts_5xx;
  counts_5xx.fail_on_5xx = true;
  UpstreamHealth strict(group_of_two(counts_5xx));
  strict.failed(0, 0, Failure::timeout, "no response");
  CHECK(strict.state(0) == State::up);
  strict.responded(0, 0, 503);
  CHECK(strict.state(0) == State::down);

  HealthPolicy counts_timeouts;
  counts_timeouts.fail_on_timeout = true;
  UpstreamHealth lenient(group_of_two(counts_timeouts));
  lenient.responded(0, 0, 503);  // an answer, if a sad one: it is up
  CHECK(lenient.state(0) == State::up);
  lenient.failed(0, 0, Failure::timeout, "no response");
  CHECK(lenient.state(0) == State::down);
  lenient.responded(0, 0, 200);
  CHECK(lenient.state(0) == State::up);
}

TEST_CASE("the gauges name each upstream with its group, and a 503 says why none is usable") {
  UpstreamHealth health(group_of_two(HealthPolicy{}));
  health.failed(0, 0, Failure::connect, "refused");
  health.failed(1, 0, Failure::reset, "reset by peer");
  const auto gauges = health.gauges();
  REQUIRE(gauges.size() == 2);
  CHECK(gauges[0].group == "app");
  CHECK(gauges[0].upstream == "http://127.0.0.1:8081");
  CHECK_FALSE(gauges[0].up);
  const std::string why = health.why_none(0b11, 4000);
  CHECK_MESSAGE(why ==
                    "http://127.0.0.1:8081 is down (connect failures), tried again in 6 s; "
                    "http://127.0.0.1:8082 is down (resets), tried again in 6 s",
                why);
}

TEST_CASE("a checked upstream goes down at fall failed checks and comes back at rise passed ones") {
  // Mutations: checked() not restarting the passes at a failure brings it up at the third pass
  // overall; usable() not looking at the policy lets requests at it after the down time.
  HealthPolicy policy;
  policy.check_path = "/healthz";
  policy.fall = 2;
  policy.rise = 3;
  UpstreamHealth health(group_of_two(policy));
  const auto took = std::chrono::microseconds(1500);
  health.checked(0, 0, false, took, "refused");
  CHECK(health.state(0) == State::up);
  health.checked(0, 0, false, took, "refused");
  CHECK(health.state(0) == State::down);
  CHECK_FALSE(health.usable(0, 1'000'000));  // the down time long past: still only by checks
  health.checked(0, 0, true, took, "200");
  health.checked(0, 0, true, took, "200");
  health.checked(0, 0, false, took, "503");
  health.checked(0, 0, true, took, "200");
  health.checked(0, 0, true, took, "200");
  CHECK(health.state(0) == State::down);
  health.checked(0, 0, true, took, "200");
  CHECK(health.state(0) == State::up);
  CHECK(health.gauges()[0].check_us == 1500);
  CHECK(health.gauges()[1].check_us == -1);  // never checked
}
