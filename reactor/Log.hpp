// A tiny logger: one line per event to stderr, with a level filter. Apps and the library use it
// for the few things a user must see (bind failures, drains, insecure options).
#pragma once

#include <string_view>

namespace reactor::log {

enum class Level { debug, info, warn, error, off };

void set_level(Level level);
Level level();
void write(Level level, std::string_view message);

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
