// How many requests of a route group may be retrying at once, as Envoy's retry budget: a
// percentage of the requests in flight, never fewer than min_concurrent (so a quiet group can
// still retry). When an upstream fails for everyone, retries then add a bounded share of load
// instead of doubling it. Shared by every loop of an upstream set; lock-free.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace apps::proxy {

class RetryBudget {
 public:
  static constexpr std::uint32_t min_concurrent = 3;

  // One budget per lane (route group, and lane 0 for requests without routes).
  explicit RetryBudget(std::size_t lanes)
      : lanes_(lanes), taken_(std::make_unique<std::atomic<std::uint32_t>[]>(lanes)) {}

  // Takes one of `lane`'s retry slots when fewer than max(min_concurrent, percent × in_flight /
  // 100) are taken; false (nothing taken) otherwise. Any thread.
  bool take(std::size_t lane, unsigned percent, std::uint32_t in_flight) {
    const std::uint64_t share = std::uint64_t{percent} * in_flight / 100;
    const std::uint64_t limit = share > min_concurrent ? share : min_concurrent;
    std::uint32_t now = taken_[lane].load(std::memory_order_relaxed);
    do {
      if (now >= limit) return false;
    } while (!taken_[lane].compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
    return true;
  }
  // A slot take() gave is free again (its request ended). Any thread.
  void give_back(std::size_t lane) { taken_[lane].fetch_sub(1, std::memory_order_relaxed); }
  std::uint32_t taken(std::size_t lane) const {
    return taken_[lane].load(std::memory_order_relaxed);
  }
  std::size_t lanes() const { return lanes_; }

 private:
  std::size_t lanes_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> taken_;
};

}  // namespace apps::proxy
