// What /proc says about a process: open descriptors, resident memory, CPU time. Tests use it
// to check that a server came back to its baseline after an attack, and to bound memory.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace test_support {

inline std::size_t open_fds(pid_t pid) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// A "Vm..." line of /proc/PID/status in KiB (VmRSS: resident now, VmHWM: its peak); 0 if gone.
inline std::uint64_t status_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1));
  }
  return 0;
}
inline std::uint64_t rss_kib(pid_t pid) {
  return status_kib(pid, "VmRSS");
}
inline std::uint64_t peak_rss_kib(pid_t pid) {
  return status_kib(pid, "VmHWM");
}

// User plus system CPU time so far, in clock ticks (sysconf(_SC_CLK_TCK) per second).
inline std::uint64_t cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  // The command name (field 2) may hold spaces: fields are counted after its closing ')'.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  std::uint64_t utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) {
      stime = std::stoull(field);
      break;
    }
  }
  return utime + stime;
}

}  // namespace test_support
