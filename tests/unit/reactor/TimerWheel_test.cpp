// The wheel is swept here with synthetic clock values, so long deadlines need no waiting.
#include <doctest/doctest.h>

#include <utility>

#include "reactor/IdleWatch.hpp"
#include "reactor/Loop.hpp"
#include "reactor/LoopImpl.hpp"
#include "reactor/Timer.hpp"
#include "reactor/TimerWheel.hpp"

namespace {

class Probe final : public reactor::detail::Deadline {
 public:
  int fired = 0;

 private:
  void on_deadline() noexcept override { ++fired; }
};

}  // namespace

TEST_CASE("a deadline fires on the first sweep at or after it, not before") {
  reactor::Loop loop;
  auto& wheel = loop.impl().wheel();
  const std::uint64_t base = loop.now();
  Probe p;
  wheel.schedule(p, base + 1000);
  CHECK(wheel.pending() == 1);
  wheel.sweep(base + 999);
  CHECK(p.fired == 0);
  wheel.sweep(base + 1099);
  CHECK(p.fired == 1);
  wheel.sweep(base + 1200);
  CHECK(p.fired == 1);
  CHECK(wheel.pending() == 0);
  CHECK(loop.close() == 0);
}

TEST_CASE("moving a deadline later is honoured without refiling until its old slot comes up") {
  reactor::Loop loop;
  auto& wheel = loop.impl().wheel();
  const std::uint64_t base = loop.now();
  Probe p;
  wheel.schedule(p, base + 500);
  wheel.schedule(p, base + 5000);  // an idle connection that just saw traffic
  wheel.sweep(base + 700);
  CHECK(p.fired == 0);
  CHECK(wheel.pending() == 1);
  wheel.sweep(base + 5200);
  CHECK(p.fired == 1);
  CHECK(loop.close() == 0);
}

TEST_CASE("moving a deadline earlier refiles it") {
  reactor::Loop loop;
  auto& wheel = loop.impl().wheel();
  const std::uint64_t base = loop.now();
  Probe p;
  wheel.schedule(p, base + 20000);
  wheel.schedule(p, base + 300);
  wheel.sweep(base + 500);
  CHECK(p.fired == 1);
  CHECK(loop.close() == 0);
}

TEST_CASE("deadlines beyond one turn of the wheel wait for their turn") {
  reactor::Loop loop;
  auto& wheel = loop.impl().wheel();
  const std::uint64_t base = loop.now();
  const std::uint64_t horizon =
      reactor::detail::TimerWheel::slots * reactor::detail::TimerWheel::tick_ms;
  Probe p;
  wheel.schedule(p, base + 2 * horizon + 250);
  for (std::uint64_t t = base; t < base + 2 * horizon + 100; t += 1000) wheel.sweep(t);
  CHECK(p.fired == 0);
  wheel.sweep(base + 2 * horizon + 400);
  CHECK(p.fired == 1);
  CHECK(loop.close() == 0);
}

TEST_CASE("a cancelled deadline never fires and many deadlines fire once each") {
  reactor::Loop loop;
  auto& wheel = loop.impl().wheel();
  const std::uint64_t base = loop.now();
  std::vector<Probe> probes(1000);
  for (std::size_t i = 0; i < probes.size(); ++i) wheel.schedule(probes[i], base + 10 + i * 37);
  wheel.cancel(probes[3]);
  CHECK(wheel.pending() == 999);
  // A jump larger than the wheel (a suspended machine) still expires everything due.
  wheel.sweep(base + 10 + 1000 * 37 + 100000);
  for (std::size_t i = 0; i < probes.size(); ++i) CHECK(probes[i].fired == (i == 3 ? 0 : 1));
  CHECK(wheel.pending() == 0);
  CHECK(loop.close() == 0);
}

TEST_CASE("the wheel's own timer expires a deadline in real time") {
  reactor::Loop loop;
  auto& wheel = loop.impl().wheel();
  class Stopper final : public reactor::detail::Deadline {
   public:
    explicit Stopper(reactor::Loop& l) : loop(l) {}
    reactor::Loop& loop;
    bool fired = false;

   private:
    void on_deadline() noexcept override {
      fired = true;
      loop.stop();
    }
  } stopper(loop);
  // The wheel timer is unreferenced; something must keep run() alive.
  reactor::Timer keep_alive(loop);
  keep_alive.start(std::chrono::seconds(10), std::chrono::milliseconds(0), [&] { loop.stop(); });
  wheel.schedule(stopper, loop.now() + 150);
  loop.run();
  CHECK(stopper.fired);
  keep_alive.stop();
  CHECK(loop.close() == 0);
}

namespace {

class Quiet final : public reactor::IdleWatch {
 public:
  explicit Quiet(reactor::Loop& loop) : loop_(loop) {}
  int idle = 0;
  bool again = false;  // touch once more from on_idle

 private:
  void on_idle() noexcept override {
    ++idle;
    if (std::exchange(again, false)) touch(loop_, std::chrono::milliseconds(300));
  }
  reactor::Loop& loop_;
};

}  // namespace

TEST_CASE("an idle watch fires once its quiet period passed since the last touch") {
  reactor::Loop loop;
  auto& wheel = loop.impl().wheel();
  const std::uint64_t base = loop.now();
  Quiet q(loop);
  q.touch(loop, std::chrono::milliseconds(1000));
  q.touch(loop, std::chrono::milliseconds(2000));  // activity: the quiet moment moves later
  CHECK(wheel.pending() == 1);
  wheel.sweep(base + 1500);
  CHECK(q.idle == 0);
  q.again = true;
  wheel.sweep(base + 2100);
  CHECK(q.idle == 1);
  CHECK(wheel.pending() == 1);  // touched again from on_idle
  wheel.sweep(base + 2500);
  CHECK(q.idle == 2);
  CHECK(wheel.pending() == 0);
  CHECK(loop.close() == 0);
}

TEST_CASE("trim_memory_soon asked many times arms one trim, and again after it ran") {
  reactor::Loop loop;
  auto& wheel = loop.impl().wheel();
  const std::uint64_t base = loop.now();
  for (int i = 0; i < 5; ++i) loop.trim_memory_soon();
  CHECK(wheel.pending() == 1);
  wheel.sweep(base + reactor::Loop::trim_delay_ms - 1);
  CHECK(wheel.pending() == 1);
  wheel.sweep(base + reactor::Loop::trim_delay_ms + reactor::detail::TimerWheel::tick_ms);
  CHECK(wheel.pending() == 0);
  loop.trim_memory_soon();
  CHECK(wheel.pending() == 1);
  CHECK(loop.close() == 0);
}
