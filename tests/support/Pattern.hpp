// Deterministic pseudo-random payloads (xorshift32): different seeds give different bytes, the
// same seed the same bytes, so a receiver can check what it got byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace test_support {

inline std::string pattern(std::size_t size, unsigned seed = 1) {
  std::string s(size, '\0');
  std::uint32_t x = 2463534242u * seed;
  for (auto& ch : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    ch = static_cast<char>(x);
  }
  return s;
}

}  // namespace test_support
