// Runs a function on libuv's worker pool and its completion back on the loop.
#pragma once

#include <functional>

namespace reactor {

class Loop;

/// Queues `work` on the worker pool (libuv's threadpool: UV_THREADPOOL_SIZE threads, default 4,
/// shared by every loop of the process) and then runs `done` on the loop's thread. `done`
/// always runs, once: `cancelled` is true when the loop closed before the work could start.
/// `work` must not touch loop-thread state; hand results over through what it captures.
/// Loop thread only.
void queue_work(Loop& loop, std::function<void()> work, std::function<void(bool cancelled)> done);

}  // namespace reactor
