// The open-file limit the load needs, raised at start rather than discovered as EMFILE later.
#pragma once

#include <cstdint>
#include <string>

namespace bench::tls_load {

// Raises RLIMIT_NOFILE to at least `needed`: the soft limit up to the hard one, and the hard
// one too when the process may (root, up to /proc/sys/fs/nr_open). false with a sentence in
// `error` when it cannot.
bool ensure_fd_limit(std::uint64_t needed, std::string& error);

}  // namespace bench::tls_load
