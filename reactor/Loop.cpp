#include "reactor/Loop.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <csignal>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "reactor/CallbackFailure.hpp"
#include "reactor/Log.hpp"
#include "reactor/LoopImpl.hpp"
#include "reactor/detail/OwnedHandleImpl.hpp"

namespace reactor {
namespace detail {

namespace {

// Writing to a socket whose write side is already known dead raises SIGPIPE, whose default
// action kills the process; libuv's stream writes do not suppress it. Network servers ignore
// it and take the EPIPE error instead. Left alone if the application installed a handler.
void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
      std::signal(SIGPIPE, SIG_IGN);
  });
}

}  // namespace

LoopImpl::LoopImpl() : wheel_(&loop_, &tick_) {
  ignore_sigpipe_once();
  if (const int rc = uv_loop_init(&loop_); rc != 0)
    throw std::runtime_error(std::string("uv_loop_init: ") + uv_strerror(rc));
  uv_async_init(&loop_, &async_, &LoopImpl::on_async);
  async_.data = this;
  // Neither the post door nor the deadline tick should keep run() going on their own.
  uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
  uv_timer_init(&loop_, &tick_);
  uv_unref(reinterpret_cast<uv_handle_t*>(&tick_));
  // Waiting steps belong to connections, which keep the loop alive themselves.
  uv_idle_init(&loop_, &turn_);
  turn_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&turn_));
}

void LoopImpl::add(LoopMember& m) noexcept {
  members_.push_back(m);
  ++connection_count_;
}

void LoopImpl::remove(LoopMember& m) noexcept {
  if (!m.linked()) return;
  m.unlink();
  --connection_count_;
}

void LoopImpl::for_each(const std::function<void(LoopMember&)>& fn) {
  // Snapshot first: fn may open or close connections.
  std::vector<LoopMember*> members;
  members.reserve(connection_count_);
  members_.for_each_node([&](ListNode& n) { members.push_back(&static_cast<LoopMember&>(n)); });
  for (LoopMember* m : members)
    if (m->linked()) fn(*m);
}

void LoopImpl::trim_memory_soon() noexcept {
  if (trim_.at() == 0) wheel_.schedule(trim_, now() + Loop::trim_delay_ms);
}

void LoopImpl::Trim::on_deadline() noexcept {
#if defined(__GLIBC__)
  // glibc only returns the top of the heap by itself; this also releases whole free pages
  // between live blocks (madvise), which is where the buffers of idle connections were.
  malloc_trim(0);
#endif
}

void LoopImpl::post(std::function<void()> fn) {
  const std::lock_guard lock(mutex_);
  if (closed_) return;
  posted_.push_back(std::move(fn));
  // Under the lock so that close() cannot close the handle in between.
  uv_async_send(&async_);
}

void LoopImpl::on_async(uv_async_t* handle) noexcept {
  static_cast<LoopImpl*>(handle->data)->run_posted();
}

void LoopImpl::run_posted() noexcept {
  std::vector<std::function<void()>> batch;
  {
    const std::lock_guard lock(mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) {
    try {
      fn();
    } catch (...) {
      log_callback_failure("a posted function");
    }
  }
}

void LoopImpl::close_own_handles() noexcept {
  {
    const std::lock_guard lock(mutex_);
    closed_ = true;
    posted_.clear();
  }
  uv_timer_stop(&tick_);
  uv_idle_stop(&turn_);
  turn_active_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&turn_), nullptr);
}

void* LoopImpl::find_local(const void* key) const noexcept {
  for (const Local& l : locals_)
    if (l.key == key) return l.value;
  return nullptr;
}

void LoopImpl::add_local(const void* key, void* value, void (*destroy)(void*)) {
  try {
    locals_.push_back(Local{key, value, destroy});
  } catch (...) {
    destroy(value);
    throw;
  }
}

void LoopImpl::destroy_locals() noexcept {
  // A destructor may still ask for another slot: take them one at a time from the back.
  while (!locals_.empty()) {
    const Local last = locals_.back();
    locals_.pop_back();
    try {
      last.destroy(last.value);
    } catch (...) {
      log::error("a per-loop object's destructor threw");
    }
  }
}

int LoopImpl::close() {
  if (uv_closed_) return close_result_;
  close_own_handles();
  // Close callbacks may start new work (a handler reconnecting in on_close): repeat a few times.
  for (int round = 0; round < 8; ++round) {
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (uv_is_closing(h)) return;
          if (auto* owner = owner_of<HandleOwner>(h)) {
            owner->on_loop_closing();
          } else {
            uv_close(h, nullptr);
          }
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    if (!uv_loop_alive(&loop_)) break;
  }
  // After the connections (their on_close may use them); their destructors may close handles.
  destroy_locals();
  uv_run(&loop_, UV_RUN_DEFAULT);
  close_result_ = uv_loop_close(&loop_);
  uv_closed_ = true;
  return close_result_;
}

}  // namespace detail

Loop::Loop() : impl_(std::make_unique<detail::LoopImpl>()) {}

Loop::~Loop() {
  if (const int rc = impl_->close(); rc != 0)
    log::error(std::string("loop closed with handles or requests still open: ") + uv_strerror(rc));
}

void Loop::run() {
  uv_run(impl_->uv(), UV_RUN_DEFAULT);
}

bool Loop::run_once(bool block) {
  return uv_run(impl_->uv(), block ? UV_RUN_ONCE : UV_RUN_NOWAIT) != 0;
}

void Loop::stop() {
  uv_stop(impl_->uv());
}

void Loop::post(std::function<void()> fn) {
  impl_->post(std::move(fn));
}

void Loop::trim_memory_soon() {
  impl_->trim_memory_soon();
}

std::uint64_t Loop::now() const {
  return impl_->now();
}

std::size_t Loop::connection_count() const {
  return impl_->connection_count();
}

std::size_t Loop::handle_count() const {
  std::size_t count = 0;
  uv_walk(
      impl_->uv(),
      [](uv_handle_t* handle, void* arg) {
        if (uv_is_closing(handle) == 0) ++*static_cast<std::size_t*>(arg);
      },
      &count);
  return count;
}

void Loop::for_each_connection(const std::function<void(Connection&)>& fn) {
  impl_->for_each([&](detail::LoopMember& m) { fn(m.connection()); });
}

int Loop::close() {
  return impl_->close();
}

void* Loop::find_local(const void* key) const noexcept {
  return impl_->find_local(key);
}

void Loop::add_local(const void* key, void* value, void (*destroy)(void*)) {
  impl_->add_local(key, value, destroy);
}

}  // namespace reactor
