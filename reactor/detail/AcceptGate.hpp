// How a listener bounds its open connections (ListenOptions::max_connections). The gate is
// shared by the listener and the connections it accepted, since either may go first: each
// connection holds an AcceptSlot for its whole life, and the slot it gives back reopens a
// full gate.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace reactor::detail {

struct AcceptGate {
  std::size_t open = 0;
  std::size_t limit = 0;           // 0: no limit
  std::function<void()> on_freed;  // the listener's, reset when the listener goes away

  bool full() const noexcept { return limit != 0 && open >= limit; }
};

class AcceptSlot {
 public:
  explicit AcceptSlot(std::shared_ptr<AcceptGate> gate) : gate_(std::move(gate)) { ++gate_->open; }
  AcceptSlot(const AcceptSlot&) = delete;
  AcceptSlot& operator=(const AcceptSlot&) = delete;
  ~AcceptSlot() {
    const bool was_full = gate_->full();
    --gate_->open;
    if (was_full && gate_->on_freed) gate_->on_freed();
  }

 private:
  std::shared_ptr<AcceptGate> gate_;
};

}  // namespace reactor::detail
