#include "apps/http/Date.hpp"

#include <array>
#include <ctime>

namespace apps::http {

// strftime's %a and %b are the C locale's, which is English, as the format requires.
const std::string& http_date() {
  thread_local std::time_t formatted_at = -1;
  thread_local std::string text;
  if (const std::time_t now = std::time(nullptr); now != formatted_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::array<char, 40> buffer{};
    text.assign(buffer.data(),
                std::strftime(buffer.data(), buffer.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm));
    formatted_at = now;
  }
  return text;
}

std::string seconds_text(std::chrono::milliseconds ms) {
  const auto whole = ms.count() / 1000;
  const auto tenths = (ms.count() % 1000) / 100;
  return std::to_string(whole) + (tenths != 0 ? "." + std::to_string(tenths) : "") + " s";
}

}  // namespace apps::http
