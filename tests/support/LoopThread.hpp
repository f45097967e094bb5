// A reactor::Loop running on its own thread, so that the test thread can block on peers
// (child processes) while the server side keeps serving.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "reactor/Loop.hpp"
#include "tests/support/Watchdog.hpp"

namespace test_support {

// Thread-safety: call() and stop_and_close() from the test thread only; everything touching
// loop() (listeners, connections) belongs on the loop thread, i.e. inside call().
class LoopThread {
 public:
  // Starts the thread; the loop's watchdog fails the test and stops the loop after `limit`.
  explicit LoopThread(std::chrono::milliseconds limit);
  // Stops and joins if stop_and_close() was not called (a test that failed half-way).
  ~LoopThread();
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  reactor::Loop& loop() noexcept { return loop_; }

  // Keeps `object` (a listener, a timer) alive until the loop thread has stopped, then destroys
  // it before the loop closes: a test that fails half-way still tears down in a safe order.
  // Call on the loop thread, i.e. inside call().
  template <typename T>
  T& own(std::unique_ptr<T> object) {
    T& ref = *object;
    owned_.push_back(std::shared_ptr<T>(std::move(object)));
    return ref;
  }

  // Runs fn on the loop thread and waits for it. False when it did not run within `timeout`
  // (the loop is stuck, or the watchdog already stopped it).
  bool call(std::function<void()> fn,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

  // Evaluates pred on the loop thread every few milliseconds until it holds; false when it
  // still does not after `timeout`.
  bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

  // Stops the loop, joins the thread, and returns Loop::close(): 0 when every handle and
  // request was released. Objects created on the loop should be gone before this.
  int stop_and_close();

 private:
  void join();
  void release_owned();

  reactor::Loop loop_;
  std::optional<Watchdog> watchdog_;
  std::vector<std::shared_ptr<void>> owned_;
  std::thread thread_;
};

}  // namespace test_support
