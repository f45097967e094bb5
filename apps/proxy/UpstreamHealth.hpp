// Whether each upstream of a set is up or down, shared by every loop: the passive marking that
// requests do (connect failures, resets, and per group response timeouts and 5xx answers) and
// the state every loop's pick reads without a lock. nginx's `max_fails` / `fail_timeout`,
// HAProxy's `observe` + `fall`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "apps/proxy/Metrics.hpp"

namespace apps::proxy {

struct ProxyOptions;

// How one group's upstreams are marked down by what requests see ([[group]] keys).
struct HealthPolicy {
  unsigned fall = 1;  // consecutive failures that take an upstream down
  // A response timeout (504) counts as a failure. Off by default: one slow endpoint (a long
  // poll, a report) would take down an upstream that answers everything else.
  bool fail_on_timeout = false;
  bool fail_on_5xx = false;  // a 5xx answer counts as a failure

  // Active checks (HealthChecks), on when `check_path` is set: GET check_path every
  // check_interval, a failure past check_timeout or with another status than check_status (0:
  // any 2xx or 3xx). `fall` failed checks (or request failures) in a row take an upstream down,
  // `rise` passed checks in a row bring it back; while checked, only checks bring it back.
  std::string check_path;
  std::chrono::milliseconds check_interval{5000};
  std::chrono::milliseconds check_timeout{2000};
  int check_status = 0;
  unsigned rise = 2;
  bool active() const { return !check_path.empty(); }
};

// One object per upstream set (made with the options, shared by all loops through
// shared_ptr). Every call may come from any loop's thread at once: the state is per upstream
// atomics, and a change of state is made by one compare-exchange, so exactly one caller logs
// it. Times are loop times in ms (uv_now: one monotonic clock for every loop of the process).
class UpstreamHealth {
 public:
  enum class State : std::uint8_t { up, down };
  // What a request saw go wrong with an upstream.
  enum class Failure : std::uint8_t { connect, reset, timeout, status_5xx, check };

  // The upstreams of `options`, each with the policy and name of the first group that lists it
  // (group "default" for the --upstream ones without routes). options.upstream_down_time: how
  // long an upstream marked down is skipped before a request may try it again.
  explicit UpstreamHealth(const ProxyOptions& options);
  UpstreamHealth(const UpstreamHealth&) = delete;
  UpstreamHealth& operator=(const UpstreamHealth&) = delete;

  std::size_t size() const { return count_; }
  // Whether a pick may send a request to upstream `i` at `now`: it is up, or down for longer
  // than the down time (a request then tries it; its success brings it back up). Lock-free.
  bool usable(std::size_t i, std::uint64_t now) const;
  State state(std::size_t i) const { return members_[i].state.load(std::memory_order_relaxed); }

  // A request to upstream `i` failed as `failure` says (`detail`: the error, for the log). The
  // policy's fall-th failure in a row takes it down, with one log line; a failure while down
  // pushes its return back by the down time. Failures the group's policy ignores do nothing.
  void failed(std::size_t i, std::uint64_t now, Failure failure, const std::string& detail);
  // Upstream `i` answered a request: its failure count restarts, and if it was down it is up
  // again (one log line). One relaxed load when nothing changes.
  void answered(std::size_t i);
  // Upstream `i` sent a response head with `status` at `now`: a failure when it is a 5xx and
  // the group counts those, else answered().
  void responded(std::size_t i, std::uint64_t now, int status);

  // An active check of upstream `i` ended: `passed` or not (`detail` says why, for the log),
  // after `took`. Counts towards rise or fall, as the group's policy says.
  void checked(std::size_t i, std::uint64_t now, bool passed, std::chrono::microseconds took,
               const std::string& detail);
  // The policy of the group upstream `i` belongs to (the first that lists it).
  const HealthPolicy& policy(std::size_t i) const { return members_[i].policy; }
  const std::string& group_of(std::size_t i) const { return members_[i].group; }

  // Connections to upstream `i` carrying an exchange or a tunnel, over every loop (least
  // connections). UpstreamLink adds one when its exchange begins and takes it off when the
  // exchange or its tunnel ends. Relaxed: a pick needs no exact snapshot.
  void busy_changed(std::size_t i, bool now_busy) {
    if (now_busy)
      members_[i].busy.fetch_add(1, std::memory_order_relaxed);
    else
      members_[i].busy.fetch_sub(1, std::memory_order_relaxed);
  }
  std::uint32_t busy(std::size_t i) const {
    return members_[i].busy.load(std::memory_order_relaxed);
  }

  // Why no request can go to any of the upstreams in `mask` (bit per index) at `now`: each
  // one's name and why it is down. For the 503's text.
  std::string why_none(std::uint64_t mask, std::uint64_t now) const;
  // The state of every upstream, for tlsreactor_proxy_upstream_up. Any thread.
  std::vector<UpstreamGauge> gauges() const;

 private:
  struct Member {
    std::atomic<State> state{State::up};
    std::atomic<std::uint32_t> failures{0};       // in a row, since the last answer
    std::atomic<std::uint64_t> retry_at{0};       // loop ms: down, but a request may try it
    std::atomic<Failure> last{Failure::connect};  // the last failure's kind, for why_none
    std::atomic<std::uint32_t> busy{0};           // exchanges and tunnels on it, every loop
    std::atomic<std::uint32_t> passes{0};         // active checks passed in a row
    std::atomic<std::int64_t> check_us{-1};       // the last check's time; -1: none yet
    std::string name;                             // the upstream's URL text
    std::string group;                            // the first group that lists it
    HealthPolicy policy;
  };

  // The one place a state moves: from `from` to `to`, true (and logged with `why`) for the
  // caller whose exchange made the move.
  bool move(Member& member, State from, State to, const std::string& why);

  std::size_t count_;
  std::unique_ptr<Member[]> members_;  // atomics neither copy nor move: a fixed array
  std::uint64_t down_ms_;
};

// Words for a failure kind in log lines and answers ("connect failure").
const char* failure_text(UpstreamHealth::Failure failure) noexcept;

}  // namespace apps::proxy
