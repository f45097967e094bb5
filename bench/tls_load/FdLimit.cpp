#include "bench/tls_load/FdLimit.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace bench::tls_load {

bool ensure_fd_limit(std::uint64_t needed, std::string& error) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    error = std::string("getrlimit: ") + std::strerror(errno);
    return false;
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur >= needed) return true;
  rlimit wanted = limit;
  wanted.rlim_cur = needed;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) wanted.rlim_max = needed;
  if (::setrlimit(RLIMIT_NOFILE, &wanted) == 0) return true;
  const int saved = errno;
  std::uint64_t nr_open = 0;
  std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
  error = "cannot raise the open-file limit to " + std::to_string(needed) + " (soft " +
          std::to_string(limit.rlim_cur) + ", hard " + std::to_string(limit.rlim_max) +
          ", fs.nr_open " + std::to_string(nr_open) + "): " + std::strerror(saved) +
          (saved == EPERM ? " (a hard limit above the current one needs CAP_SYS_RESOURCE)" : "") +
          "; use fewer --connections or raise the hard limit (ulimit -Hn, prlimit)";
  return false;
}

}  // namespace bench::tls_load
