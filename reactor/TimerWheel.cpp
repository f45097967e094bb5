#include "reactor/TimerWheel.hpp"

#include <uv.h>

#include <algorithm>

namespace reactor::detail {
Deadline::~Deadline() {
  if (wheel_ != nullptr) wheel_->cancel(*this);
}

TimerWheel::TimerWheel(uv_loop_s* loop, uv_timer_s* timer)
    : loop_(loop), timer_(timer), swept_tick_(0) {}

void TimerWheel::schedule(Deadline& d, std::uint64_t at) noexcept {
  d.wheel_ = this;
  if (at == 0) {
    if (d.linked()) {
      d.unlink();
      --pending_;
    }
    d.at_ = 0;
    update_timer();
    return;
  }
  if (d.linked()) {
    d.at_ = at;
    // Later than where it is filed: leave it, the sweep re-files it. Earlier: re-file now.
    if (tick_of(at) < d.slot_tick_) {
      d.unlink();
      file(d);
    }
    return;
  }
  // An empty wheel may have stopped ticking long ago; restart counting from now.
  if (pending_ == 0) swept_tick_ = uv_now(loop_) / tick_ms;
  d.at_ = at;
  file(d);
  ++pending_;
  update_timer();
}

void TimerWheel::file(Deadline& d) noexcept {
  d.slot_tick_ = std::max(tick_of(d.at_), swept_tick_ + 1);
  wheel_[d.slot_tick_ % slots].push_back(d);
}

void TimerWheel::sweep(std::uint64_t now) noexcept {
  const std::uint64_t now_tick = now / tick_ms;
  if (now_tick <= swept_tick_) return;
  const std::uint64_t count = std::min<std::uint64_t>(now_tick - swept_tick_, slots);
  List due;
  for (std::uint64_t t = swept_tick_ + 1; t <= swept_tick_ + count; ++t)
    due.splice(wheel_[t % slots]);
  swept_tick_ = now_tick;

  // Expiry callbacks may schedule any deadline, including their own: each entry is unlinked
  // before its callback runs.
  while (ListNode* node = due.front()) {
    Deadline& d = static_cast<Deadline&>(*node);
    d.unlink();
    if (d.at_ <= now) {
      --pending_;
      d.at_ = 0;
      d.on_deadline();
    } else {
      file(d);
    }
  }
  update_timer();
}

void TimerWheel::update_timer() noexcept {
  if (pending_ > 0 && !running_) {
    running_ = true;
    timer_->data = this;
    uv_timer_start(
        timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<TimerWheel*>(t->data);
          self->sweep(uv_now(self->loop_));
        },
        tick_ms, tick_ms);
  } else if (pending_ == 0 && running_) {
    running_ = false;
    uv_timer_stop(timer_);
  }
}

}  // namespace reactor::detail
