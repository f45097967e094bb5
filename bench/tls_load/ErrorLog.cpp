#include "bench/tls_load/ErrorLog.hpp"

#include <cinttypes>
#include <cstdio>

namespace bench::tls_load {

void ErrorLog::record(const std::string& reason) {
  ++total_;
  ++by_reason_[reason];
  if (total_ <= printed) std::fprintf(stderr, "bench-tls-load: error: %s\n", reason.c_str());
  if (total_ == printed + 1)
    std::fprintf(stderr, "bench-tls-load: more errors; counts by reason at the end\n");
}

void ErrorLog::print_summary() const {
  if (total_ <= printed) return;
  for (const auto& [reason, n] : by_reason_)
    std::fprintf(stderr, "bench-tls-load: %" PRIu64 " x %s\n", n, reason.c_str());
}

}  // namespace bench::tls_load
