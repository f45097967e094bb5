// One event loop per thread (libuv: epoll on Linux, kqueue on BSD/macOS).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

namespace reactor {

class Connection;
namespace detail {
class LoopImpl;
}

/// Thread-safety: post() may be called from any thread; everything else only from the thread
/// that runs the loop, including close() (connections may hold per-thread state, such as
/// OpenSSL async jobs). Not copyable or movable (libuv handles point into it).
class Loop {
 public:
  Loop();
  /// Closes every handle still open (connections see on_close with Errc::loop_closed), runs
  /// until their close callbacks ran, then closes the libuv loop.
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  /// Runs until stop() or until nothing keeps the loop alive.
  void run();
  /// Runs one iteration; returns whether anything is still alive.
  bool run_once(bool block);
  /// Makes run() return after the current iteration.
  void stop();
  /// Runs `fn` on the loop's thread during a later iteration. Safe from any thread; functions
  /// posted after close() are dropped.
  void post(std::function<void()> fn);

  /// The loop's cached clock in milliseconds (updated once per iteration).
  std::uint64_t now() const;

  /// After freeing much memory in scattered blocks (idle connections' buffers): asks the
  /// allocator to give the free pages among live blocks back to the system (glibc's
  /// malloc_trim), within trim_delay_ms, at most once per trim_delay_ms however often asked.
  /// Otherwise those pages stay resident until the heap reuses them.
  void trim_memory_soon();
  /// How long trim_memory_soon() waits, so one trim serves a burst of closes.
  static constexpr std::uint64_t trim_delay_ms = 1000;

  /// Live connections on this loop (accepted or connecting or closing).
  std::size_t connection_count() const;
  /// libuv handles open on this loop and not closing, the loop's own included: what connections,
  /// timers and polls cost the loop (tests assert that a connection costs one, its socket).
  std::size_t handle_count() const;
  /// Calls fn for each live connection. Closing a connection inside fn is safe.
  void for_each_connection(const std::function<void(Connection&)>& fn);

  /// Tears the loop down as the destructor does, but reports uv_loop_close()'s result: 0 when
  /// every handle and request was released (tests assert it). Idempotent.
  int close();

  /// The loop's one instance of T: state a subsystem keeps per loop (a pool of upstream
  /// connections, scratch buffers, bookkeeping of asynchronous jobs) instead of per thread, so
  /// that two loops on one thread never share it and it dies with its loop. Made on first use,
  /// from `T(Loop&)` when T has that constructor, else `T()`. Destroyed in reverse order of
  /// creation when the loop closes, after every connection saw on_close and every handle was
  /// closed, so a connection's on_close may still use it; T's destructor may close handles of
  /// its own. Loop thread only; the reference is valid until the loop closes.
  template <typename T>
  T& local() {
    if (void* found = find_local(&local_key<T>)) return *static_cast<T*>(found);
    std::unique_ptr<T> made;
    if constexpr (std::is_constructible_v<T, Loop&>)
      made = std::make_unique<T>(*this);
    else
      made = std::make_unique<T>();
    T& ref = *made;
    add_local(&local_key<T>, made.release(),
              [](void* p) { std::default_delete<T>()(static_cast<T*>(p)); });
    return ref;
  }

  /// The libuv side, for the library's own handles and connections; not for applications (its type
  /// is in reactor/LoopImpl.hpp, which is not installed). Loop thread only.
  detail::LoopImpl& impl() noexcept { return *impl_; }

 private:
  template <typename T>
  static constexpr char local_key = 0;  ///< its address names T's slot
  void* find_local(const void* key) const noexcept;
  /// Takes ownership of `value`, destroyed with `destroy`.
  void add_local(const void* key, void* value, void (*destroy)(void*));

  std::unique_ptr<detail::LoopImpl> impl_;
};

}  // namespace reactor
