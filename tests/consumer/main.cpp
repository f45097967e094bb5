// Smallest program that proves the installed package links and runs: libuv (a private
// dependency of the static library) must reach the link line through the package.
#include <reactor/Loop.hpp>
#include <reactor/Timer.hpp>

#include <chrono>

int main() {
  bool ran = false;
  reactor::Loop loop;
  // By design a pending post() keeps nothing alive, so something referenced must.
  reactor::Timer keep_alive(loop);
  keep_alive.start(std::chrono::minutes(1), std::chrono::milliseconds(0), [] {});
  loop.post([&] {
    ran = true;
    loop.stop();
  });
  loop.run();
  keep_alive.stop();
  return ran && loop.close() == 0 ? 0 : 1;
}
