// A tiny logger: one line per event to stderr, with a level filter. Apps and the library use it
// for the few things a user must see (bind failures, drains, insecure options).
#pragma once

#include <string>
#include <string_view>

namespace reactor::log {

enum class Level { debug, info, warn, error, off };

void set_level(Level level);
Level level();
void write(Level level, std::string_view message);

// Appends the current UTC time in RFC 3339 with milliseconds, "2026-12-07T15:04:05.123Z": the
// time of the error log's lines and of the proxy's access-log lines (one format for both).
// One clock read per call: the text of the second is cached per thread (every loop has its
// own thread, and the error log is written from other threads too), as nginx caches its time.
// Any thread.
void append_timestamp(std::string& out);
// The same for a given time (seconds and nanoseconds since the epoch), without the cache.
void append_timestamp(std::string& out, long long seconds, long nanoseconds);

inline void debug(std::string_view m) {
  write(Level::debug, m);
}
inline void info(std::string_view m) {
  write(Level::info, m);
}
inline void warn(std::string_view m) {
  write(Level::warn, m);
}
inline void error(std::string_view m) {
  write(Level::error, m);
}

}  // namespace reactor::log
