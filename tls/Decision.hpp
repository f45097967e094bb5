// tls::Decision: the one-shot handle through which an application answers a question the
// handshake asked (which certificate, accept this peer?), later and from any thread. Every
// asynchronous hook (tls/Hooks.hpp) hands one to the application; this is the one piece of code
// behind all of them.
//
// How an answer reaches the handshake: the OpenSSL callback that asked keeps the other end of
// the handle (a Slot, per SSL). Without an answer yet it tells OpenSSL "retry" and the Engine
// parks; the answer is stored under the slot's lock and the Engine's waker runs, which (in
// TlsTransport) hops to the connection's loop and resumes it; OpenSSL calls the callback again,
// which takes the answer. An answer given before the callback returned (synchronously) is taken
// at once and wakes nobody.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace tls {
namespace detail {

/// The answer for one question, shared by the application's handle and the SSL that asked.
/// Thread-safety: complete() from any thread; take_or_park() and disarm() on the connection's.
template <typename Answer>
class Slot {
 public:
  /// The first answer wins; later ones are ignored. Wakes the connection if it is parked on this.
  void complete(Answer answer) {
    {
      const std::lock_guard lock(mutex_);
      if (answered_) return;
      answered_ = true;
      answer_ = std::move(answer);
      if (!parked_) return;  // answered inside the hook: taken when the hook returns
    }
    // The waker runs under wake_mutex_ so that disarm() cannot return while a wake-up is
    // under way: once the connection is gone, nothing of it (its loop included) is touched.
    // Recursive, and a copy is called, for a driver whose waker resumes the engine at once:
    // that may ask again (take_or_park) or free the SSL (disarm) on this very thread.
    const std::lock_guard wake_lock(wake_mutex_);
    if (const std::function<void()> wake = waker_) wake();
  }

  bool answered() const {
    const std::lock_guard lock(mutex_);
    return answered_;
  }

  /// The connection's side: the answer if there is one (taken: the slot is spent), else nullopt
  /// and `waker` is kept to be called when the answer comes.
  std::optional<Answer> take_or_park(std::function<void()> waker) {
    const std::lock_guard wake_lock(wake_mutex_);  ///< always before mutex_, never after
    const std::lock_guard lock(mutex_);
    if (answered_ && answer_) return std::exchange(answer_, std::nullopt);
    parked_ = true;
    waker_ = std::move(waker);
    return std::nullopt;
  }

  /// The connection is going away: an answer from now on wakes nobody.
  void disarm() noexcept {
    const std::lock_guard wake_lock(wake_mutex_);
    waker_ = nullptr;
  }

 private:
  mutable std::mutex mutex_;
  std::recursive_mutex wake_mutex_;
  bool answered_ = false;
  bool parked_ = false;
  std::optional<Answer> answer_;
  std::function<void()> waker_;
};

/// What the last copy of a handle leaves behind: an application that drops every copy without
/// answering gets Answer::dropped() for it, so the handshake fails (or declines) now instead of
/// waiting for its timeout.
template <typename Answer>
struct Owner {
  explicit Owner(std::shared_ptr<Slot<Answer>> s) : slot(std::move(s)) {}
  ~Owner() {
    try {
      slot->complete(Answer::dropped());
    } catch (...) {
      // Only a failing lock or allocation gets here; the handshake timeout still ends it.
    }
  }
  Owner(const Owner&) = delete;
  Owner& operator=(const Owner&) = delete;
  std::shared_ptr<Slot<Answer>> slot;
};

}  // namespace detail

/// A copyable one-shot handle. Thread-safety: any copy may answer, from any thread, once; the
/// first answer of all copies wins and later ones do nothing. The handle may outlive the
/// connection: an answer then goes nowhere.
template <typename Answer>
class Decision {
 public:
  /// Made by the library when a hook is called.
  explicit Decision(std::shared_ptr<detail::Slot<Answer>> slot)
      : owner_(std::make_shared<detail::Owner<Answer>>(std::move(slot))) {}

  /// Whether some copy has answered (or every copy was dropped).
  bool answered() const { return owner_->slot->answered(); }

 protected:
  /// For the typed decisions' named answers (accept(), reject(), ...): the first answer of any copy
  /// wins, later ones are ignored. Any thread; the handshake resumes on its loop.
  void answer(Answer a) const { owner_->slot->complete(std::move(a)); }

 private:
  std::shared_ptr<detail::Owner<Answer>> owner_;
};

}  // namespace tls
