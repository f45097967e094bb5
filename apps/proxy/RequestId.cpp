#include "apps/proxy/RequestId.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace apps::proxy {
namespace {

std::uint64_t rotl(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

bool lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zero(std::string_view s) {
  return s.find_first_not_of('0') == std::string_view::npos;
}

}  // namespace

RequestIds::RequestIds() : state_{} {
  auto* bytes = reinterpret_cast<char*>(state_.data());
  std::size_t got = 0;
  while (got < sizeof state_) {
    const ssize_t n = ::getrandom(bytes + got, sizeof state_ - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      break;
    }
  }
  // xoshiro's one forbidden state; with getrandom failing, the clock at least differs per run.
  if (got < sizeof state_ ||
      std::all_of(state_.begin(), state_.end(), [](std::uint64_t w) { return w == 0; })) {
    state_[0] ^=
        static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    state_[1] ^= 0x9e3779b97f4a7c15ULL;
  }
}

std::uint64_t RequestIds::next64() {
  const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const std::uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

std::string RequestIds::next() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t word = next64();
    for (int i = 15; i >= 0; --i, word >>= 4)
      id[static_cast<std::size_t>(half * 16 + i)] = kHex[word & 0xF];
  }
  return id;
}

bool valid_traceparent(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55.
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
  const std::string_view version = v.substr(0, 2), trace = v.substr(3, 32),
                         parent = v.substr(36, 16), flags = v.substr(53, 2);
  if (!lower_hex(version) || !lower_hex(trace) || !lower_hex(parent) || !lower_hex(flags))
    return false;
  if (version == "ff" || all_zero(trace) || all_zero(parent)) return false;
  if (version == "00") return v.size() == 55;
  // A later version: more fields may follow, after a '-'.
  return v.size() == 55 || v[55] == '-';
}

bool acceptable_request_id(std::string_view value) {
  return !value.empty() && value.size() <= 200 &&
         std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

}  // namespace apps::proxy
