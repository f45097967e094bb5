// Admission control for costly steps shared by every connection of a loop (a TLS handshake's
// cryptography, say): each loop iteration admits a bounded number of them. A step over the
// budget waits in the loop's first-come-first-served queue and is started at the beginning of
// a later iteration, before that iteration's I/O; while steps wait the loop polls without
// blocking, so the events of every other connection keep being served in between. Work that
// never asks for admission is never held back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "reactor/detail/IntrusiveList.hpp"

namespace reactor {

class Loop;
namespace detail {
class LoopImpl;
}

/// One owner's place in its loop's queue, reused for each step. Owned by the application
/// (typically a member of a connection): destroying it leaves the queue, so an owner that goes
/// away while waiting is simply forgotten. Loop thread only.
class TurnTicket final : private detail::ListNode {
 public:
  /// `on_admitted` runs on the loop when a waiting step is admitted (counted against that
  /// iteration's budget); it may destroy other tickets, or ask again through this one.
  explicit TurnTicket(std::function<void()> on_admitted);
  ~TurnTicket() { cancel(); }
  TurnTicket(const TurnTicket&) = delete;
  TurnTicket& operator=(const TurnTicket&) = delete;

  /// Asks for one step of this iteration's budget of `per_turn` steps (0: no budget). True: go
  /// on now, the step is counted. False: the ticket waits (already waiting: stays in its place)
  /// and on_admitted runs in a later iteration. Nobody overtakes a waiting ticket, so once the
  /// queue is not empty every step waits its turn.
  bool admit(Loop& loop, std::size_t per_turn);
  /// Leaves the queue, if waiting; on_admitted will not run for the step it asked for.
  void cancel() noexcept { unlink(); }
  /// Queued by an admit() that returned false, on_admitted not yet run.
  bool waiting() const noexcept { return linked(); }

  /// Steps that had to wait on this loop, since it started (tests, statistics).
  static std::uint64_t waited(Loop& loop) noexcept;

 private:
  friend class detail::LoopImpl;
  std::function<void()> on_admitted_;
  std::size_t per_turn_ = 0;
};

}  // namespace reactor
