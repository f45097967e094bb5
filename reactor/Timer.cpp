#include "reactor/Timer.hpp"

#include <utility>

#include "reactor/CallbackFailure.hpp"
#include "reactor/Loop.hpp"
#include "reactor/LoopImpl.hpp"
#include "reactor/detail/OwnedHandleImpl.hpp"

namespace reactor {

Timer::Timer(Loop& loop) {
  uv_timer_init(loop.impl().uv(), handle_.allocate(this));
  handle_.initialized();
}

Timer::~Timer() {
  handle_.close();
}

void Timer::start(std::chrono::milliseconds delay, std::chrono::milliseconds repeat,
                  std::function<void()> fn) {
  if (!handle_) return;
  fn_ = std::move(fn);
  uv_timer_start(handle_.get(), &Timer::on_timer, static_cast<std::uint64_t>(delay.count()),
                 static_cast<std::uint64_t>(repeat.count()));
}

void Timer::stop() {
  if (handle_) uv_timer_stop(handle_.get());
}

bool Timer::active() const {
  return handle_ && uv_is_active(reinterpret_cast<const uv_handle_t*>(handle_.get())) != 0;
}

void Timer::unref() {
  if (handle_) uv_unref(reinterpret_cast<uv_handle_t*>(handle_.get()));
}

void Timer::on_loop_closing() noexcept {
  handle_.close();
}

void Timer::on_timer(uv_timer_t* handle) noexcept {
  auto* self = detail::owner_of<Timer>(handle);
  if (self == nullptr || !self->fn_) return;
  // Copy: the callback may restart the timer with a new function, or destroy this object.
  auto fn = self->fn_;
  // A timer belongs to no connection: what its callback throws is logged and the loop goes on.
  try {
    fn();
  } catch (...) {
    log_callback_failure("a timer's callback");
  }
}

}  // namespace reactor
