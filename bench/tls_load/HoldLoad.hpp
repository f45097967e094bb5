// --mode hold: establish N connections (handshake and one keep-alive request each), then keep
// only their sockets, idle, until the hold time ends or a stop signal arrives.
#pragma once

#include <cstdint>

#include "bench/tls_load/ClientTls.hpp"
#include "bench/tls_load/ErrorLog.hpp"
#include "bench/tls_load/Options.hpp"
#include "bench/tls_load/Poller.hpp"

namespace bench::tls_load {

struct HoldResult {
  std::uint64_t connections = 0;        // established (handshake and response done)
  bool ready = false;                   // all --connections were up at once ("ready N" printed)
  double seconds_to_ready = 0;          // or, when never ready, until the establishing stopped
  std::uint64_t closed_while_idle = 0;  // by the server, after their response (also errors)
};

// Connections being established at once (the idle ones are not limited by it).
inline constexpr unsigned hold_window = 128;

HoldResult run_hold(const Options& options, ClientTls& tls, Poller& poller, ErrorLog& errors);

}  // namespace bench::tls_load
