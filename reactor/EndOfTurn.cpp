#include "reactor/EndOfTurn.hpp"

#include <uv.h>

#include <utility>

#include "reactor/CallbackFailure.hpp"
#include "reactor/Loop.hpp"
#include "reactor/LoopImpl.hpp"
#include "reactor/detail/HandleOwner.hpp"
#include "reactor/detail/OwnedHandleImpl.hpp"

namespace reactor::detail {

// The loop's one queue of registrations (a Loop::local slot), served by a check handle. Both
// handles run only while something is queued, so an idle loop pays nothing for it.
struct EndOfTurnQueue final : HandleOwner {
  explicit EndOfTurnQueue(Loop& loop) {
    uv_check_init(loop.impl().uv(), check_.allocate(this));
    check_.initialized();
    uv_idle_init(loop.impl().uv(), wake_.allocate(this));
    wake_.initialized();
  }
  ~EndOfTurnQueue() override = default;
  EndOfTurnQueue(const EndOfTurnQueue&) = delete;
  EndOfTurnQueue& operator=(const EndOfTurnQueue&) = delete;

  void add(EndOfTurn& node) noexcept {
    if (node.linked() || !check_) return;
    if (queued_.empty()) {
      uv_check_start(check_.get(), &EndOfTurnQueue::on_check);
      // A request made after this iteration's poll started waiting (from a timer, another
      // check callback, or before run()) would otherwise wait for unrelated I/O: an active
      // idle handle makes the next poll return at once.
      uv_idle_start(wake_.get(), &EndOfTurnQueue::on_wake);
    }
    queued_.push_back(node);
  }

  static void on_wake(uv_idle_t*) noexcept {}
  static void on_check(uv_check_t* handle) noexcept {
    if (auto* self = owner_of<EndOfTurnQueue>(handle)) self->run_turn();
  }

  void run_turn() noexcept {
    // This turn's requests only: a callback that asks again lands in queued_, for the next.
    List batch;
    batch.splice(queued_);
    while (ListNode* node = batch.front()) {
      auto& registration = static_cast<EndOfTurn&>(*node);
      registration.unlink();  // before the call: it may request again or die
      try {
        registration.fn_();
      } catch (...) {
        log_callback_failure("an end-of-turn callback");
      }
    }
    if (queued_.empty() && check_) {
      uv_check_stop(check_.get());
      uv_idle_stop(wake_.get());
    }
  }

  void on_loop_closing() noexcept override {
    // No turn follows: pending calls are dropped, later requests too (add() checks check_).
    queued_.clear();
    check_.close();
    wake_.close();
  }

  OwnedHandle<uv_check_t> check_;
  OwnedHandle<uv_idle_t> wake_;
  List queued_;
};

}  // namespace reactor::detail

namespace reactor {

EndOfTurn::EndOfTurn(Loop& loop, std::function<void()> fn)
    : queue_(loop.local<detail::EndOfTurnQueue>()), fn_(std::move(fn)) {}

void EndOfTurn::request() noexcept {
  queue_.add(*this);
}

}  // namespace reactor
