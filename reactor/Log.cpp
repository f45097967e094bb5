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

// "2026-12-07T15:04:05" for `seconds` since the epoch (19 characters, then a NUL).
void second_text(std::time_t seconds, char (&text)[20]) {
  tm parts{};
  gmtime_r(&seconds, &parts);
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
}

void append_millis(std::string& out, long nanoseconds) {
  const auto ms = static_cast<int>(nanoseconds / 1'000'000);
  const char fraction[] = {'.', static_cast<char>('0' + ms / 100),
                           static_cast<char>('0' + ms / 10 % 10), static_cast<char>('0' + ms % 10),
                           'Z'};
  out.append(fraction, sizeof fraction);
}

}  // namespace

void append_timestamp(std::string& out, long long seconds, long nanoseconds) {
  char text[20];
  second_text(static_cast<std::time_t>(seconds), text);
  out.append(text, 19);
  append_millis(out, nanoseconds);
}

void append_timestamp(std::string& out) {
  struct Cached {
    std::time_t second = -1;
    char text[20] = {};
  };
  thread_local Cached cached;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec != cached.second) {
    second_text(ts.tv_sec, cached.text);
    cached.second = ts.tv_sec;
  }
  out.append(cached.text, 19);
  append_millis(out, ts.tv_nsec);
}

void set_level(Level l) {
  g_level.store(l, std::memory_order_relaxed);
}
Level level() {
  return g_level.load(std::memory_order_relaxed);
}

void write(Level l, std::string_view message) {
  if (l < level() || l == Level::off) return;
  // One write(2) per line so that lines from several loop threads do not interleave.
  std::string line;
  line.reserve(message.size() + 48);
  append_timestamp(line);
  line.append(" ").append(name(l)).append(" ").append(message).append("\n");
  const ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace reactor::log
