// The loop's private state: the libuv loop, the per-loop read buffer, the deadline wheel, the
// registry of live connections and the cross-thread post queue.
#pragma once

#include <uv.h>

#include <array>
#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

#include "reactor/TimerWheel.hpp"
#include "reactor/detail/IntrusiveList.hpp"

namespace reactor {

class Connection;
class TurnTicket;

namespace detail {

// What the loop needs from each live connection (implemented by Stream).
class LoopMember : private ListNode {
 public:
  virtual Connection& connection() noexcept = 0;
  virtual void notify_server_stopping() noexcept = 0;

 protected:
  virtual ~LoopMember() = default;

 private:
  friend class LoopImpl;
};

class LoopImpl {
 public:
  // libuv reads up to 64 KiB per call; one buffer serves every connection of the loop because
  // a read callback consumes its data before the next read starts.
  static constexpr std::size_t read_buffer_size = 64 * 1024;

  LoopImpl();
  // Slots made after close() (nothing else can be left by then).
  ~LoopImpl() { destroy_locals(); }
  LoopImpl(const LoopImpl&) = delete;
  LoopImpl& operator=(const LoopImpl&) = delete;

  uv_loop_t* uv() noexcept { return &loop_; }
  TimerWheel& wheel() noexcept { return wheel_; }
  std::byte* read_buffer() noexcept { return read_buffer_.data(); }
  std::uint64_t now() noexcept { return uv_now(&loop_); }

  void add(LoopMember& m) noexcept;
  void remove(LoopMember& m) noexcept;
  std::size_t connection_count() const noexcept { return connection_count_; }
  void for_each(const std::function<void(LoopMember&)>& fn);

  void post(std::function<void()> fn);
  int close();

  // Loop::trim_memory_soon.
  void trim_memory_soon() noexcept;

  // Loop::local's slots.
  void* find_local(const void* key) const noexcept;
  void add_local(const void* key, void* value, void (*destroy)(void*));

  // TurnTicket::admit: counts the step in this iteration or queues the ticket.
  bool admit(TurnTicket& ticket, std::size_t per_turn);
  std::uint64_t waited() const noexcept { return waited_; }

 private:
  static void on_async(uv_async_t* handle) noexcept;
  static void on_idle(uv_idle_t* handle) noexcept;
  // The start of an iteration that follows admitted or waiting steps: a fresh budget, spent
  // first on the queue.
  void start_turn() noexcept;
  void run_posted() noexcept;
  void close_own_handles() noexcept;
  void destroy_locals() noexcept;

  uv_loop_t loop_{};
  uv_async_t async_{};
  uv_timer_t tick_{};
  // Active (so the loop polls without blocking) while steps wait or were admitted this turn.
  uv_idle_t turn_{};
  bool turn_active_ = false;
  std::size_t admitted_ = 0;  // steps admitted in the current iteration
  List waiting_;              // TurnTickets, first come first served
  std::uint64_t waited_ = 0;
  TimerWheel wheel_;
  // Armed by the first trim_memory_soon() after a trim, never pushed back: one trim per delay.
  struct Trim final : Deadline {
    void on_deadline() noexcept override;
  } trim_;  // after wheel_, so it leaves the wheel before the wheel goes
  List members_;
  std::size_t connection_count_ = 0;
  std::mutex
      mutex_;  // guards posted_ and closed_ only: the cross-thread door, never per connection
  std::vector<std::function<void()>> posted_;
  bool closed_ = false;
  struct Local {
    const void* key;
    void* value;
    void (*destroy)(void*);
  };
  std::vector<Local> locals_;  // in order of creation; few, so a linear search is the fastest
  bool uv_closed_ = false;
  int close_result_ = 0;
  alignas(64) std::array<std::byte, read_buffer_size> read_buffer_{};
};

}  // namespace detail
}  // namespace reactor
