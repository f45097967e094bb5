#include "apps/proxy/HashRing.hpp"

#include <algorithm>

namespace apps::proxy {

std::uint64_t HashRing::hash(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  // FNV-1a alone leaves inputs that differ in their last byte close together on the ring.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

HashRing::HashRing(const std::vector<Member>& members) {
  for (const Member& m : members)
    for (unsigned i = 0; i < points_per_member * m.weight; ++i)
      points_.emplace_back(hash(m.url + "#" + std::to_string(i)), m.index);
  std::sort(points_.begin(), points_.end());
}

std::optional<std::size_t> HashRing::pick(std::uint64_t key,
                                          const std::function<bool(std::size_t)>& usable) const {
  if (points_.empty()) return std::nullopt;
  const auto start = std::lower_bound(points_.begin(), points_.end(),
                                      std::pair<std::uint64_t, std::size_t>{key, 0});
  const std::size_t first = static_cast<std::size_t>(start - points_.begin());
  for (std::size_t k = 0; k < points_.size(); ++k) {
    const std::size_t index = points_[(first + k) % points_.size()].second;
    if (usable(index)) return index;
  }
  return std::nullopt;
}

}  // namespace apps::proxy
