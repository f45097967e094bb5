// Request ids (X-Request-Id) and W3C Trace Context (traceparent) as the proxy handles them:
// an id made for each request that comes without a kept one, and the check that decides
// whether a traceparent goes on to the upstream.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace reactor {
class Loop;
}

namespace apps::proxy {

// Makes 128-bit request ids as 32 lower-case hex digits. One per loop (reactor::Loop::local),
// so the request path takes no lock; seeded once from the OS (getrandom), then xoshiro256**:
// no system call per id. Unpredictable enough that one client cannot guess another's id from
// its own, not a secret (ids are logged and sent in the clear). Loop thread only.
class RequestIds {
 public:
  RequestIds();
  explicit RequestIds(const std::array<std::uint64_t, 4>& seed) : state_(seed) {}
  std::string next();

 private:
  std::uint64_t next64();
  std::array<std::uint64_t, 4> state_;
};

// Whether `value` is a traceparent a W3C Trace Context reader accepts (version 00's form:
// "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>", lower case, ids not all zero; a
// later version may append "-..." after those fields; version ff is invalid).
bool valid_traceparent(std::string_view value);

// Whether a client's X-Request-Id may be kept as is: 1 to 200 visible ASCII characters.
bool acceptable_request_id(std::string_view value);

}  // namespace apps::proxy
