// Consistent hashing of request keys onto a group's members (ketama-like): each member owns
// many points on a 64-bit ring, placed by hashing its URL, and a key goes to the first point at
// or after its own hash. Removing a member moves only the keys of its points (to the next
// points, of other members), and the mapping depends only on the URLs, so it is the same after
// a restart or on another proxy. Pure and immutable: built with the options, read by every loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apps::proxy {

class HashRing {
 public:
  static constexpr unsigned points_per_member = 160;

  // `members`: (upstream index, URL text) pairs; a member's share grows with `weight` (its
  // points are points_per_member × weight).
  struct Member {
    std::size_t index;
    std::string url;
    unsigned weight = 1;
  };
  explicit HashRing(const std::vector<Member>& members);

  // The member for a key hashed to `key`: the first point at or after it whose member
  // `usable` accepts (a down member's keys go on to the next points); nullopt when none does.
  std::optional<std::size_t> pick(std::uint64_t key,
                                  const std::function<bool(std::size_t)>& usable) const;

  // The ring's hash (64-bit FNV-1a, then a finaliser that spreads similar inputs): stable across
  // builds and platforms, never seeded.
  static std::uint64_t hash(std::string_view bytes);

 private:
  std::vector<std::pair<std::uint64_t, std::size_t>> points_;  // (position, index), sorted
};

}  // namespace apps::proxy
