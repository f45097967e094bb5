// Reading a fuzzer's bytes as decisions. A harness keeps its plan (chunk sizes, mutations) in a
// few leading bytes and drives a small generator from them, so that mutating the payload does
// not reshuffle the plan and the fuzzer's coverage feedback stays meaningful.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fuzz {

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  std::size_t left() const { return size_ - pos_; }

  std::uint8_t byte() { return empty() ? 0 : data_[pos_++]; }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | byte();
    return v;
  }
  std::span<const std::byte> take(std::size_t n) {
    n = std::min(n, left());
    auto out = std::as_bytes(std::span(data_ + pos_, n));
    pos_ += n;
    return out;
  }
  std::span<const std::byte> rest() { return take(left()); }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// xorshift32: a deterministic plan from a seed (never zero).
class Plan {
 public:
  explicit Plan(std::uint32_t seed) : state_(seed == 0 ? 0x9e3779b9u : seed) {}
  std::uint32_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }
  // Chunk sizes in four styles chosen by the seed: all at once, dribbled byte by byte, small
  // pieces, pieces around a TLS record's size.
  std::size_t chunk() {
    switch (style_ = (style_ == 255 ? static_cast<int>(state_ & 3) : style_)) {
      case 0:
        return SIZE_MAX;
      case 1:
        return 1;
      case 2:
        return 1 + next() % 64;
      default:
        return 1 + next() % (17 * 1024);
    }
  }

 private:
  std::uint32_t state_;
  int style_ = 255;
};

// A seed file a harness proposes for its corpus.
using Seed = std::pair<std::string, std::vector<std::uint8_t>>;

inline std::vector<std::uint8_t> with_plan(std::uint32_t plan, std::span<const std::byte> payload) {
  std::vector<std::uint8_t> out{
      static_cast<std::uint8_t>(plan >> 24), static_cast<std::uint8_t>(plan >> 16),
      static_cast<std::uint8_t>(plan >> 8), static_cast<std::uint8_t>(plan)};
  for (std::byte b : payload) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

// Bytes as the text a parser reads.
inline std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// A seed whose payload is text, behind its plan.
inline Seed text_seed(std::string name, std::uint32_t plan, std::string_view text) {
  return {std::move(name), with_plan(plan, std::as_bytes(std::span(text.data(), text.size())))};
}

// For harnesses that run one input twice (whole, and in the plan's pieces): what came out must
// not depend on how the input was split. Aborts, showing both, when it does.
inline void require_same(const std::string& whole, const std::string& pieces) {
  if (whole == pieces) return;
  std::fprintf(stderr, "--- whole ---\n%s--- in pieces ---\n%s", whole.c_str(), pieces.c_str());
  std::abort();
}

}  // namespace fuzz

// Every harness defines these: the libFuzzer entry point and its own seeds.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
std::vector<fuzz::Seed> fuzz_seeds();
