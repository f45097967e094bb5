#include "reactor/WheelTimer.hpp"

#include "reactor/CallbackFailure.hpp"
#include "reactor/Loop.hpp"
#include "reactor/LoopImpl.hpp"

namespace reactor {

WheelTimer::WheelTimer(Loop& loop, std::function<void()> on_expired)
    : loop_(loop), on_expired_(std::move(on_expired)) {}

void WheelTimer::start(std::chrono::milliseconds delay) noexcept {
  detail::LoopImpl& impl = loop_.impl();
  // A zero delay still waits for the next tick: at == 0 means "not armed".
  const auto ms = static_cast<std::uint64_t>(delay.count() > 0 ? delay.count() : 1);
  impl.wheel().schedule(*this, impl.now() + ms);
}

void WheelTimer::stop() noexcept {
  if (active()) loop_.impl().wheel().cancel(*this);
}

void WheelTimer::on_deadline() noexcept {
  try {
    on_expired_();
  } catch (...) {
    log_callback_failure("a deadline's callback");
  }
}

}  // namespace reactor
