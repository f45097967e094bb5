#include "tests/support/LoopThread.hpp"

#include <future>
#include <memory>

namespace test_support {

LoopThread::LoopThread(std::chrono::milliseconds limit) {
  // Created before the thread starts, so no other thread touches the loop yet.
  watchdog_.emplace(loop_, limit);
  thread_ = std::thread([this] { loop_.run(); });
}

LoopThread::~LoopThread() {
  join();
  release_owned();
}

bool LoopThread::call(std::function<void()> fn, std::chrono::milliseconds timeout) {
  // Shared, so a call that timed out cannot leave the loop holding a dead promise.
  auto done = std::make_shared<std::promise<void>>();
  auto ran = done->get_future();
  loop_.post([fn = std::move(fn), done] {
    fn();
    done->set_value();
  });
  return ran.wait_for(timeout) == std::future_status::ready;
}

bool LoopThread::wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool holds = false;
    if (!call([&] { holds = pred(); })) return false;
    if (holds) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void LoopThread::join() {
  if (!thread_.joinable()) return;
  // Loop::stop() belongs to the loop thread; post() is the one call allowed from here.
  loop_.post([this] { loop_.stop(); });
  thread_.join();
}

int LoopThread::stop_and_close() {
  join();
  // The thread has ended, so the loop is ours now: tear down on this thread.
  release_owned();
  return loop_.close();
}

void LoopThread::release_owned() {
  while (!owned_.empty()) owned_.pop_back();  // newest first, like locals going out of scope
  watchdog_.reset();
}

}  // namespace test_support
