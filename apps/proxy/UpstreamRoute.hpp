// The upstreams one request may be sent to, and what each failure on the way means for it:
// the first pick (round robin over those not marked down), the next after a failed connect
// (the failure told to the set's UpstreamHealth), one resend of a bodiless request on a
// fresh connection when a pooled one turned out closed, and the error answer (502, 503, 504)
// once nothing is left to try. One policy for the HTTP/1.1 handler and the HTTP/2 exchanges.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "apps/http/Date.hpp"
#include "apps/proxy/Metrics.hpp"
#include "apps/proxy/ProxyOptions.hpp"
#include "apps/proxy/RetryBudget.hpp"
#include "reactor/Error.hpp"

namespace apps::proxy {

class HashRing;
class LoopUpstreams;

using http::seconds_text;  // "2.5 s", for the messages that name a timeout

// One request's route. Loop thread only; reused by the next request after begin().
class UpstreamRoute {
 public:
  struct Next {
    enum class Step {
      pooled,  // send to upstream `index`: an idle pooled connection, else a new one
      fresh,   // send to upstream `index` on a new connection (the resend)
      answer,  // nothing left to try: answer `status` saying `why`
    };
    Step step = Step::answer;
    std::size_t index = 0;
    int status = 0;
    std::string why;
  };

  // A new request: nothing tried yet. `allowed` (bit per upstream index): the upstreams of its
  // route's group, the others count as tried from the start; `lane`: the group's round robin
  // (Balancer), 0 without routes.
  // `retries`: how many other members the request may move to after a failed connect or a
  // reset (the group's `retries`).
  // `budget`: the group's retry budget (percent of its requests in flight that may be retrying).
  void begin(std::uint64_t allowed = ~std::uint64_t{0}, std::size_t lane = 0, unsigned retries = 1,
             unsigned budget = 20) {
    give_back_retry();
    budget_percent_ = budget;
    allowed_ = allowed;
    tried_ = ~allowed;
    lane_ = lane;
    retries_left_ = retries;
    ring_ = nullptr;
    retried_ = false;
  }
  // For a group that hashes (after begin()): picks follow `ring` from `key`, the hash of the
  // request's key. `ring` outlives the request (the route table holds it).
  void hash_by(const HashRing* ring, std::uint64_t key) {
    ring_ = ring;
    key_ = key;
  }
  // The upstream to try first; with none usable, a 503 at once that says why.
  Next first(LoopUpstreams& pool, std::uint64_t now);
  // The connect to index() failed with `error` at `now`: a failure for its health, and the next
  // is picked while retries are left.
  Next connect_failed(LoopUpstreams& pool, std::uint64_t now, const reactor::Error& error);
  // The connection to index() ended at `now` before the response was complete, and no byte of
  // the response had gone to the client. `reused`: it came from the pool; `has_body`: the
  // request had one (which may have gone out in part, so is never sent twice). A failure for
  // the upstream's health, unless it is a pooled connection closed before any answer (the
  // upstream's keep-alive ran out as the request went out). A request without a body that the
  // upstream closed on before answering moves to another member while retries are left.
  Next lost(LoopUpstreams& pool, std::uint64_t now, const reactor::Error& error,
            Metrics::UpstreamError kind, bool reused, bool response_begun, bool has_body);

  UpstreamRoute() = default;
  UpstreamRoute(const UpstreamRoute&) = delete;
  UpstreamRoute& operator=(const UpstreamRoute&) = delete;
  ~UpstreamRoute() { give_back_retry(); }

  // The upstream of the last Next that was not an answer.
  std::size_t index() const { return index_; }

 private:
  Next take(std::size_t index);
  // The next member not tried and usable at `now`: by the ring when the group hashes, else by
  // the balancer's turn.
  std::optional<std::size_t> pick(LoopUpstreams& pool, std::uint64_t now);
  // Another member not tried yet, taking one of the retries (counted in `pool`'s metrics);
  // nullopt when none is left or no member is.
  std::optional<Next> retry(LoopUpstreams& pool, std::uint64_t now);
  // The request's slot in the retry budget, if it holds one, is free again.
  void give_back_retry() {
    if (retry_slot_) std::exchange(retry_slot_, nullptr)->give_back(lane_);
  }

  std::size_t index_ = 0;
  std::uint64_t allowed_ = 0;  // the request's group (bit per index)
  std::uint64_t tried_ = 0;    // upstreams tried for this request (bit per index)
  std::size_t lane_ = 0;
  unsigned retries_left_ = 0;
  unsigned budget_percent_ = 20;
  // The budget a retry slot was taken from (held until the request ends: begin() or the
  // destructor); null while the request has not retried.
  std::shared_ptr<RetryBudget> retry_slot_;
  const HashRing* ring_ = nullptr;
  std::uint64_t key_ = 0;
  bool retried_ = false;  // the keep-alive race's resend was made
};

}  // namespace apps::proxy
