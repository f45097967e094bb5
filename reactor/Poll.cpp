#include "reactor/Poll.hpp"

#include <utility>

#include "reactor/CallbackFailure.hpp"
#include "reactor/Loop.hpp"
#include "reactor/LoopImpl.hpp"
#include "reactor/detail/OwnedHandleImpl.hpp"

namespace reactor {

Poll::Poll(Loop& loop, int fd) : fd_(fd) {
  if (const int rc = uv_poll_init(loop.impl().uv(), handle_.allocate(this), fd); rc != 0) {
    handle_.discard();
    error_ = Error(uv_error(rc), "poll fd " + std::to_string(fd));
    return;
  }
  handle_.initialized();
}

Poll::~Poll() {
  handle_.close();
}

Error Poll::start(int events, Callback fn) {
  if (!handle_) return error_ ? error_ : Error(Errc::loop_closed, "poll fd " + std::to_string(fd_));
  fn_ = std::move(fn);
  int uv_events = 0;
  if ((events & readable) != 0) uv_events |= UV_READABLE;
  if ((events & writable) != 0) uv_events |= UV_WRITABLE;
  if (const int rc = uv_poll_start(handle_.get(), uv_events, &Poll::on_poll); rc != 0)
    return Error(uv_error(rc), "poll fd " + std::to_string(fd_));
  return {};
}

void Poll::stop() {
  if (handle_) uv_poll_stop(handle_.get());
}

void Poll::on_loop_closing() noexcept {
  handle_.close();
}

void Poll::on_poll(uv_poll_t* handle, int status, int events) noexcept {
  auto* self = detail::owner_of<Poll>(handle);
  if (self == nullptr || !self->fn_) return;
  int ready = 0;
  if ((events & UV_READABLE) != 0) ready |= readable;
  if ((events & UV_WRITABLE) != 0) ready |= writable;
  try {
    const Error error =
        status < 0 ? Error(uv_error(status), "poll fd " + std::to_string(self->fd_)) : Error();
    auto fn = self->fn_;
    fn(ready, error);
  } catch (...) {
    log_callback_failure("a poll's callback");  // no connection to end: the loop goes on
  }
}

}  // namespace reactor
