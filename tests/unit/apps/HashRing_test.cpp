#include "apps/proxy/HashRing.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using apps::proxy::HashRing;

namespace {

const auto any = [](std::size_t) { return true; };

std::size_t owner(const HashRing& ring, int key) {
  return ring.pick(HashRing::hash("client-" + std::to_string(key)), any).value_or(99);
}

}  // namespace

TEST_CASE("the ring maps keys by the members' URLs alone: the same in any order of building") {
  // Mutation: points placed by member position instead of URL change the mapping when the
  // list is reordered.
  const HashRing ring({{0, "http://a:1"}, {1, "http://b:1"}, {2, "http://c:1"}});
  const HashRing reordered({{2, "http://c:1"}, {0, "http://a:1"}, {1, "http://b:1"}});
  std::vector<int> share(3, 0);
  for (int key = 0; key < 3000; ++key) {
    CHECK(owner(ring, key) == owner(reordered, key));
    ++share[owner(ring, key)];
  }
  for (const int n : share) CHECK_MESSAGE(n > 600, n);  // each has a fair part of 1000
}

TEST_CASE(
    "removing a member moves only its keys, and a down member's keys go where removal "
    "would send them") {
  // Mutation: a modulo mapping (key % members) moves most keys when one member goes.
  const HashRing three({{0, "http://a:1"}, {1, "http://b:1"}, {2, "http://c:1"}});
  const HashRing two({{0, "http://a:1"}, {2, "http://c:1"}});
  int moved = 0;
  for (int key = 0; key < 3000; ++key) {
    const std::size_t before = owner(three, key);
    const std::size_t after = owner(two, key);
    if (before != 1) CHECK(after == before);
    moved += before != after ? 1 : 0;
    const auto skipping_b = three.pick(HashRing::hash("client-" + std::to_string(key)),
                                       [](std::size_t i) { return i != 1; });
    CHECK(skipping_b == after);
  }
  CHECK(moved > 600);  // b's keys, and only they
  CHECK(moved < 1400);
}
