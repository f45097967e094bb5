#include "apps/proxy/UpstreamHealth.hpp"

#include "apps/proxy/ProxyOptions.hpp"
#include "apps/proxy/RouteTable.hpp"
#include "reactor/Log.hpp"

namespace apps::proxy {

const char* failure_text(UpstreamHealth::Failure failure) noexcept {
  switch (failure) {
    case UpstreamHealth::Failure::connect:
      return "connect failure";
    case UpstreamHealth::Failure::reset:
      return "reset";
    case UpstreamHealth::Failure::timeout:
      return "response timeout";
    case UpstreamHealth::Failure::status_5xx:
      return "5xx answer";
    case UpstreamHealth::Failure::check:
      return "failed check";
  }
  return "failure";
}

UpstreamHealth::UpstreamHealth(const ProxyOptions& options)
    : count_(options.upstreams.size()),
      members_(std::make_unique<Member[]>(count_)),
      down_ms_(static_cast<std::uint64_t>(options.upstream_down_time.count())) {
  std::vector<bool> named(count_, false);
  if (options.routes) {
    for (const RouteGroup& group : options.routes->groups()) {
      for (const std::size_t i : group.upstreams) {
        if (named[i]) continue;
        named[i] = true;
        members_[i].group = group.name;
        members_[i].policy = group.health;
      }
    }
  }
  for (std::size_t i = 0; i < count_; ++i) {
    members_[i].name = options.upstreams[i].text;
    if (!named[i]) members_[i].group = "default";
  }
}

bool UpstreamHealth::usable(std::size_t i, std::uint64_t now) const {
  const Member& m = members_[i];
  // A checked upstream comes back by its checks only: no request is risked on it meanwhile.
  return m.state.load(std::memory_order_acquire) == State::up ||
         (!m.policy.active() && now >= m.retry_at.load(std::memory_order_relaxed));
}

bool UpstreamHealth::move(Member& member, State from, State to, const std::string& why) {
  if (!member.state.compare_exchange_strong(from, to, std::memory_order_acq_rel)) return false;
  reactor::log::info("upstream " + member.name + " of group " + member.group + " is " +
                     (to == State::up ? "up" : "down") + ": " + why);
  return true;
}

void UpstreamHealth::failed(std::size_t i, std::uint64_t now, Failure failure,
                            const std::string& detail) {
  Member& m = members_[i];
  if ((failure == Failure::timeout && !m.policy.fail_on_timeout) ||
      (failure == Failure::status_5xx && !m.policy.fail_on_5xx))
    return;
  m.last.store(failure, std::memory_order_relaxed);
  const std::uint32_t in_a_row = m.failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (in_a_row < m.policy.fall) return;
  // Before the state: a loop that sees it down must not see an old retry time.
  m.retry_at.store(now + down_ms_, std::memory_order_relaxed);
  move(m, State::up, State::down,
       std::to_string(in_a_row) + " " + failure_text(failure) + (in_a_row == 1 ? "" : "s") +
           " in a row (" + detail + ")");
}

void UpstreamHealth::answered(std::size_t i) {
  Member& m = members_[i];
  if (m.failures.load(std::memory_order_relaxed) == 0 &&
      m.state.load(std::memory_order_relaxed) == State::up)
    return;
  m.failures.store(0, std::memory_order_relaxed);
  if (m.policy.active()) return;  // a checked upstream comes back by its checks (rise)
  move(m, State::down, State::up, "it answered a request");
}

void UpstreamHealth::responded(std::size_t i, std::uint64_t now, int status) {
  if (status >= 500 && members_[i].policy.fail_on_5xx)
    return failed(i, now, Failure::status_5xx, "answered " + std::to_string(status));
  answered(i);
}

void UpstreamHealth::checked(std::size_t i, std::uint64_t now, bool passed,
                             std::chrono::microseconds took, const std::string& detail) {
  Member& m = members_[i];
  m.check_us.store(took.count(), std::memory_order_relaxed);
  if (!passed) {
    m.passes.store(0, std::memory_order_relaxed);
    return failed(i, now, Failure::check, detail);
  }
  m.failures.store(0, std::memory_order_relaxed);
  const std::uint32_t in_a_row = m.passes.fetch_add(1, std::memory_order_relaxed) + 1;
  if (in_a_row >= m.policy.rise)
    move(m, State::down, State::up, std::to_string(in_a_row) + " checks passed in a row");
}

std::string UpstreamHealth::why_none(std::uint64_t mask, std::uint64_t now) const {
  std::string out;
  for (std::size_t i = 0; i < count_ && i < 64; ++i) {
    if (((mask >> i) & 1U) == 0) continue;
    const Member& m = members_[i];
    const std::uint64_t retry_at = m.retry_at.load(std::memory_order_relaxed);
    const std::uint64_t wait_s = retry_at > now ? (retry_at - now + 999) / 1000 : 0;
    out += out.empty() ? "" : "; ";
    out += m.name + " is down (" + failure_text(m.last.load(std::memory_order_relaxed)) + "s), ";
    out += m.policy.active() ? "back after " + std::to_string(m.policy.rise) + " passed checks"
                             : "tried again in " + std::to_string(wait_s) + " s";
  }
  return out;
}

std::vector<UpstreamGauge> UpstreamHealth::gauges() const {
  std::vector<UpstreamGauge> out;
  for (std::size_t i = 0; i < count_; ++i)
    out.push_back({members_[i].group, members_[i].name, state(i) == State::up,
                   members_[i].check_us.load(std::memory_order_relaxed)});
  return out;
}

}  // namespace apps::proxy
