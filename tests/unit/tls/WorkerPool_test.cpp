#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>

#include "tls/WorkerPool.hpp"

TEST_CASE("a WorkerPool runs every queued task before its destructor returns") {
  std::atomic<int> ran{0};
  {
    tls::WorkerPool pool(2);
    CHECK(pool.size() == 2);
    for (int i = 0; i < 200; ++i) pool.submit([&] { ++ran; });
  }
  CHECK(ran == 200);
}

TEST_CASE("a task that throws is dropped and the pool keeps working") {
  std::atomic<int> ran{0};
  {
    tls::WorkerPool pool(1);
    pool.submit([] { throw std::runtime_error("deliberate"); });
    pool.submit([&] { ++ran; });
  }
  CHECK(ran == 1);
}

TEST_CASE("a pool whose last owner is released by its own task stops without joining itself") {
  std::promise<void> released;
  auto done = released.get_future();
  {
    auto pool = std::make_shared<tls::WorkerPool>(1);
    // The task holds the only other reference, and the caller drops its own first: the pool is
    // destroyed on its own thread when the task lets go.
    auto keep = std::make_shared<std::shared_ptr<tls::WorkerPool>>(pool);
    pool->submit([keep, &released] {
      keep->reset();
      released.set_value();
    });
    pool.reset();
  }
  // A hang guard only: joining itself would deadlock or throw before the promise is kept.
  REQUIRE(done.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
}
