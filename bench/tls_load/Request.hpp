// The one request text each mode sends, built once.
#pragma once

#include <chrono>
#include <string>

#include "bench/tls_load/Options.hpp"

namespace bench::tls_load {

// Every attempt gives up this long after its connect() started.
inline constexpr std::chrono::seconds attempt_timeout{10};

enum class RequestKind { close, keep_alive };

// GET --path with Host: --sni and the Connection header `kind` says.
std::string http_request(const Options& options, RequestKind kind);

}  // namespace bench::tls_load
