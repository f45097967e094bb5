// --mode handshake: a new TLS connection per request, a fixed number in flight, until the
// request count or the duration runs out.
#pragma once

#include <cstdint>
#include <vector>

#include "bench/tls_load/ClientTls.hpp"
#include "bench/tls_load/ErrorLog.hpp"
#include "bench/tls_load/Options.hpp"
#include "bench/tls_load/Poller.hpp"

namespace bench::tls_load {

struct HandshakeResult {
  std::uint64_t requests = 0;  // completed: handshake, request, whole 2xx response
  std::uint64_t full = 0;      // of the completed ones, by SSL_session_reused
  std::uint64_t resumed = 0;
  std::uint64_t offered = 0;           // completed ones that offered a session (--resume)
  std::uint64_t offered_but_full = 0;  // ... and still made a full handshake
  double seconds = 0;                  // first connect to the last completion (or the stop)
  std::vector<float> latency_ms;       // per completed request, connect start to response end
};

HandshakeResult run_handshake(const Options& options, ClientTls& tls, Poller& poller,
                              ErrorLog& errors);

}  // namespace bench::tls_load
