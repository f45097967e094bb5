// Failed connections: counted by reason, the first few printed on stderr as they happen.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace bench::tls_load {

class ErrorLog {
 public:
  void record(const std::string& reason);
  std::uint64_t count() const { return total_; }
  // One stderr line per distinct reason with its count (when there were any errors).
  void print_summary() const;

 private:
  static constexpr std::uint64_t printed = 5;
  std::map<std::string, std::uint64_t> by_reason_;
  std::uint64_t total_ = 0;
};

}  // namespace bench::tls_load
