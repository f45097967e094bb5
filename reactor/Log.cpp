#include "reactor/Log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <string>

namespace reactor::log {
namespace {

std::atomic<Level> g_level{Level::info};

constexpr const char* name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "WARN";
    case Level::error:
      return "ERROR";
    case Level::off:
      break;
  }
  return "";
}

}  // namespace

void set_level(Level l) {
  g_level.store(l, std::memory_order_relaxed);
}
Level level() {
  return g_level.load(std::memory_order_relaxed);
}

void write(Level l, std::string_view message) {
  if (l < level() || l == Level::off) return;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm parts{};
  gmtime_r(&ts.tv_sec, &parts);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &parts);
  // One write(2) per line so that lines from several loop threads do not interleave.
  std::string line;
  line.reserve(message.size() + 48);
  line.append(stamp).append("Z ").append(name(l)).append(" ").append(message).append("\n");
  const ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace reactor::log
