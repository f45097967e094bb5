// A callback run once at the end of the current loop iteration, after this turn's I/O
// callbacks, however many times it was asked for during the turn: for work that gains from
// being done once for everything the turn brought (a connection's output gathered from several
// streams' answers into one write) instead of once per event.
#pragma once

#include <functional>

#include "reactor/detail/IntrusiveList.hpp"

namespace reactor {

class Loop;
namespace detail {
struct EndOfTurnQueue;
}

/// One owner's registration, reused for every turn (a member of a connection's handler, say).
/// Requesting costs no allocation: the registration itself is the queue's node. Destroying it
/// (or cancel()) unregisters it, so a callback never runs for an owner that died. Loop thread
/// only; the loop must outlive every request() (a registration destroyed after its loop closed
/// is fine).
class EndOfTurn final : private detail::ListNode {
 public:
  /// `fn` runs on the loop at the end of each turn in which request() was called, after the
  /// turn's I/O callbacks (libuv's check phase). It may request() again (it then runs at the end
  /// of the next turn, which will not block waiting for I/O), cancel or destroy any
  /// registration, its own owner included. What it throws is logged and dropped, as for
  /// Loop::post; owners that run application code catch themselves.
  EndOfTurn(Loop& loop, std::function<void()> fn);
  ~EndOfTurn() { cancel(); }
  EndOfTurn(const EndOfTurn&) = delete;
  EndOfTurn& operator=(const EndOfTurn&) = delete;

  /// Asks for one call at the end of this turn; a no-op if one is already pending. A request
  /// made before the turn's poll (from a timer, or before run()) is served at the end of that
  /// turn, whose poll then does not block; one made by another end-of-turn callback, at the end
  /// of the next. Dropped once the loop is closing.
  void request() noexcept;
  /// The pending call, if any, will not happen.
  void cancel() noexcept { unlink(); }
  /// Whether a call is pending (request() made, the turn not yet ended, cancel() not called).
  bool requested() const noexcept { return linked(); }

 private:
  friend struct detail::EndOfTurnQueue;
  detail::EndOfTurnQueue& queue_;
  std::function<void()> fn_;
};

}  // namespace reactor
