#include "apps/proxy/RequestId.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using apps::proxy::acceptable_request_id;
using apps::proxy::RequestIds;
using apps::proxy::valid_traceparent;

TEST_CASE("request ids are 32 lower-case hex digits and do not repeat") {
  RequestIds ids;
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = ids.next();
    REQUIRE(id.size() == 32);
    REQUIRE(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 10000);
}

TEST_CASE("two generators seeded from the OS make different ids, one seed the same ones") {
  RequestIds a, b;
  CHECK(a.next() != b.next());
  RequestIds c({1, 2, 3, 4}), d({1, 2, 3, 4});
  CHECK(c.next() == d.next());
  // Both halves come from the generator: not a 64-bit id padded.
  const std::string id = c.next();
  CHECK(id.substr(0, 16) != id.substr(16));
}

TEST_CASE("traceparent: the W3C form is accepted, anything else is not") {
  CHECK(valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  CHECK(valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
  // A later version may add fields after a '-'.
  CHECK(valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"));
  CHECK_FALSE(valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"));
  CHECK_FALSE(valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"));
  CHECK_FALSE(valid_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  CHECK_FALSE(valid_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  CHECK_FALSE(valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
  CHECK_FALSE(valid_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  CHECK_FALSE(valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"));
  CHECK_FALSE(valid_traceparent("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  CHECK_FALSE(valid_traceparent(""));
}

TEST_CASE("a client's X-Request-Id is kept only when short and visible ASCII") {
  CHECK(acceptable_request_id("abc-123"));
  CHECK(acceptable_request_id(std::string(200, 'a')));
  CHECK_FALSE(acceptable_request_id(std::string(201, 'a')));
  CHECK_FALSE(acceptable_request_id(""));
  CHECK_FALSE(acceptable_request_id("a b"));
  CHECK_FALSE(acceptable_request_id("a\x7f"));
}
