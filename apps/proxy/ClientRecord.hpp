// What the proxy records about its clients, whichever HTTP they speak: the counters of a client
// connection (opened, TLS handshake done or failed how, closed), the connection's part of every
// access-log line (address, TLS facts), and a request's end (its counters and its line). The
// HTTP/1.1 handler, the HTTP/2 exchanges and the tunnels all end a request through
// finish_request, so a line and a count can never differ between them.
#pragma once

#include <chrono>
#include <memory>

#include "apps/proxy/AccessLog.hpp"
#include "apps/proxy/Metrics.hpp"
#include "reactor/Handler.hpp"

namespace apps::proxy {

using RequestClock = std::chrono::steady_clock;

// `elapsed` in milliseconds, for the access log's timings.
double milliseconds(RequestClock::duration elapsed);

// Fills `record`'s connection fields (client address, SNI, ALPN, TLS version, cipher,
// resumption, handshake time) from an open connection.
void record_connection(reactor::Connection& conn, AccessRecord& record);

// The end of a request, answered (`status`) or not (0): its counters, by status class and by
// `record.protocol`, its time since `started` in request_seconds, and, with a log, its line
// (status and total time set here).
void finish_request(Metrics& metrics, AccessLog* log, AccessRecord& record, int status,
                    RequestClock::time_point started);

// Wraps a client connection's handler (made by `inner` once the connection is accepted) with
// the connection counters: connections_total and _active, handshakes_ok and resumptions on
// open, handshakes_failed by reason when TLS never opened. Every callback is forwarded as is.
// `metrics` outlives every handler (main owns it). Thread-safe as `inner`.
reactor::HandlerFactory counted_clients(Metrics& metrics, reactor::HandlerFactory inner);

}  // namespace apps::proxy
