#include "reactor/TurnTicket.hpp"

#include <utility>

#include "reactor/CallbackFailure.hpp"
#include "reactor/Loop.hpp"
#include "reactor/LoopImpl.hpp"

namespace reactor {

TurnTicket::TurnTicket(std::function<void()> on_admitted) : on_admitted_(std::move(on_admitted)) {}

bool TurnTicket::admit(Loop& loop, std::size_t per_turn) {
  return loop.impl().admit(*this, per_turn);
}

std::uint64_t TurnTicket::waited(Loop& loop) noexcept {
  return loop.impl().waited();
}

namespace detail {

bool LoopImpl::admit(TurnTicket& ticket, std::size_t per_turn) {
  // A closing loop has no next iteration to wait for.
  if (per_turn == 0 || uv_is_closing(reinterpret_cast<uv_handle_t*>(&turn_)) != 0) return true;
  if (ticket.linked()) return false;
  if (waiting_.empty() && admitted_ < per_turn) {
    ++admitted_;
  } else {
    ticket.per_turn_ = per_turn;
    waiting_.push_back(ticket);
    ++waited_;
  }
  // The count must be reset at the start of the next iteration even if nothing waits.
  if (!turn_active_) {
    uv_idle_start(&turn_, &LoopImpl::on_idle);
    turn_active_ = true;
  }
  return !ticket.linked();
}

void LoopImpl::on_idle(uv_idle_t* handle) noexcept {
  static_cast<LoopImpl*>(handle->data)->start_turn();
}

void LoopImpl::start_turn() noexcept {
  admitted_ = 0;
  // The waiting go first, in order, until the front one's budget is spent. Each is unlinked
  // before its call, so a callback may cancel, destroy or queue any ticket, its own included.
  while (ListNode* node = waiting_.front()) {
    auto& ticket = static_cast<TurnTicket&>(*node);
    if (admitted_ >= ticket.per_turn_) break;
    ticket.unlink();
    ++admitted_;
    try {
      ticket.on_admitted_();
    } catch (...) {
      log_callback_failure("an admitted step");
    }
  }
  if (admitted_ == 0 && waiting_.empty() && turn_active_) {
    uv_idle_stop(&turn_);
    turn_active_ = false;
  }
}

}  // namespace detail
}  // namespace reactor
