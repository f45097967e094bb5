#include "reactor/Signal.hpp"

#include <utility>

#include "reactor/CallbackFailure.hpp"
#include "reactor/Loop.hpp"
#include "reactor/LoopImpl.hpp"
#include "reactor/detail/OwnedHandleImpl.hpp"

namespace reactor {

Signal::Signal(Loop& loop) {
  uv_signal_init(loop.impl().uv(), handle_.allocate(this));
  handle_.initialized();
}

Signal::~Signal() {
  handle_.close();
}

void Signal::start(int signum, std::function<void(int)> fn) {
  if (!handle_) return;
  fn_ = std::move(fn);
  uv_signal_start(handle_.get(), &Signal::on_signal, signum);
}

void Signal::stop() {
  if (handle_) uv_signal_stop(handle_.get());
}

void Signal::unref() {
  if (handle_) uv_unref(reinterpret_cast<uv_handle_t*>(handle_.get()));
}

void Signal::on_loop_closing() noexcept {
  handle_.close();
}

void Signal::on_signal(uv_signal_t* handle, int signum) noexcept {
  auto* self = detail::owner_of<Signal>(handle);
  if (self == nullptr || !self->fn_) return;
  try {
    auto fn = self->fn_;
    fn(signum);
  } catch (...) {
    log_callback_failure("a signal's callback");  // no connection to end: the loop goes on
  }
}

}  // namespace reactor
