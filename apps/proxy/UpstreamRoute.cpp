#include "apps/proxy/UpstreamRoute.hpp"

#include "apps/proxy/HashRing.hpp"
#include "apps/proxy/Upstreams.hpp"
#include "reactor/Log.hpp"

namespace apps::proxy {

UpstreamRoute::Next UpstreamRoute::take(std::size_t index) {
  index_ = index;
  tried_ |= std::uint64_t{1} << index;
  Next next;
  next.step = Next::Step::pooled;
  next.index = index;
  return next;
}

std::optional<std::size_t> UpstreamRoute::pick(LoopUpstreams& pool, std::uint64_t now) {
  if (ring_ == nullptr) return pool.balancer().pick(now, tried_, lane_);
  return ring_->pick(key_, [this, &pool, now](std::size_t i) {
    return i < 64 && ((tried_ >> i) & 1U) == 0 && pool.health().usable(i, now);
  });
}

std::optional<UpstreamRoute::Next> UpstreamRoute::retry(LoopUpstreams& pool, std::uint64_t now) {
  if (retries_left_ == 0) return std::nullopt;
  const auto index = pick(pool, now);
  if (!index) return std::nullopt;
  if (!retry_slot_) {
    std::uint32_t in_flight = 0;
    for (std::size_t i = 0; i < pool.health().size() && i < 64; ++i)
      if (((allowed_ >> i) & 1U) != 0) in_flight += pool.health().busy(i);
    if (!pool.retry_budget()->take(lane_, budget_percent_, in_flight)) {
      Metrics::add(pool.metrics().upstream_retries_refused);
      return std::nullopt;
    }
    retry_slot_ = pool.retry_budget();
  }
  --retries_left_;
  Metrics::add(pool.metrics().upstream_retries);
  return take(*index);
}

UpstreamRoute::Next UpstreamRoute::first(LoopUpstreams& pool, std::uint64_t now) {
  Next answer;
  answer.status = 503;
  if (pool.options().upstreams.empty()) {
    answer.why = "no upstream is configured (--upstream)";
    return answer;
  }
  if (const auto index = pick(pool, now)) return take(*index);
  answer.why = "no healthy upstream: " + pool.health().why_none(allowed_, now);
  return answer;
}

UpstreamRoute::Next UpstreamRoute::connect_failed(LoopUpstreams& pool, std::uint64_t now,
                                                  const reactor::Error& error) {
  pool.health().failed(index_, now, UpstreamHealth::Failure::connect, error.message());
  if (auto next = retry(pool, now)) return std::move(*next);
  Next answer;
  answer.status = 502;
  answer.why = "no upstream could be reached: " + error.message();
  return answer;
}

UpstreamRoute::Next UpstreamRoute::lost(LoopUpstreams& pool, std::uint64_t now,
                                        const reactor::Error& error, Metrics::UpstreamError kind,
                                        bool reused, bool response_begun, bool has_body) {
  const ProxyOptions& options = pool.options();
  // A pooled connection the upstream closed just as it was reused: the request never reached
  // it. Without a body it is safe to send again, once, on a fresh connection.
  const bool keep_alive_race = reused && !response_begun && kind == Metrics::UpstreamError::closed;
  if (!keep_alive_race)
    pool.health().failed(index_, now,
                         kind == Metrics::UpstreamError::response_timeout
                             ? UpstreamHealth::Failure::timeout
                             : UpstreamHealth::Failure::reset,
                         error.message());
  if (keep_alive_race && !has_body && !retried_) {
    retried_ = true;
    Next again;
    again.step = Next::Step::fresh;
    again.index = index_;
    return again;
  }
  // Closed on before any answer: a request without a body cannot have been half taken, and
  // another member may serve it. Not after a timeout: the upstream may still be working on it.
  if (!response_begun && !has_body && kind == Metrics::UpstreamError::closed)
    if (auto next = retry(pool, now)) return std::move(*next);
  Next answer;
  const std::string& name = options.upstreams[index_].text;
  if (kind == Metrics::UpstreamError::response_timeout) {
    answer.status = 504;
    answer.why =
        "upstream " + name + " sent no response within " + seconds_text(options.response_timeout);
  } else {
    answer.status = 502;
    answer.why = "upstream " + name + " failed: " + error.message();
  }
  return answer;
}

}  // namespace apps::proxy
