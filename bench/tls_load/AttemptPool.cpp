#include "bench/tls_load/AttemptPool.hpp"

#include "bench/tls_load/Request.hpp"

namespace bench::tls_load {

AttemptPool::AttemptPool(std::size_t slots, const reactor::Address& target,
                         const std::string& request, Attempt::Ending ending, ClientTls& tls,
                         Poller& poller, ErrorLog& errors, Owner& owner)
    : target_(target),
      request_(request),
      ending_(ending),
      tls_(tls),
      poller_(poller),
      errors_(errors),
      owner_(owner),
      slots_(slots) {}

void AttemptPool::fill(Clock::time_point now) {
  for (std::size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].fd() < 0) launch(i, now);
}

void AttemptPool::launch(std::size_t slot, Clock::time_point now) {
  Attempt& attempt = slots_[slot];
  reactor::Address source;
  while (owner_.want_another(source)) {
    if (attempt.start(target_, source, ending_, now) == Attempt::Status::failed) {
      errors_.record(attempt.reason());
      attempt.close();
    } else if (!poller_.add(attempt.fd(), EPOLLIN | EPOLLOUT | EPOLLRDHUP, slot)) {
      errors_.record("epoll_ctl failed");
      attempt.close();
    } else {
      ++active_;
      return;
    }
    source = {};
  }
}

void AttemptPool::finish(std::size_t slot, Clock::time_point now) {
  slots_[slot].close();
  --active_;
  launch(slot, now);
}

void AttemptPool::on_ready(std::size_t slot) {
  Attempt& attempt = slots_[slot];
  if (attempt.fd() < 0) return;
  const auto status = attempt.advance(tls_, request_, buffer_);
  if (status == Attempt::Status::pending) return;
  const auto now = Clock::now();
  if (status == Attempt::Status::done)
    owner_.completed(attempt, now);
  else
    errors_.record(attempt.reason());
  finish(slot, now);
}

void AttemptPool::sweep_timeouts(Clock::time_point now) {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Attempt& attempt = slots_[i];
    if (attempt.fd() < 0 || now - attempt.started() < attempt_timeout) continue;
    errors_.record(std::string("timeout (10 s) ") + attempt.step_name());
    finish(i, now);
  }
}

void AttemptPool::close_all() {
  for (auto& attempt : slots_)
    if (attempt.fd() >= 0) {
      attempt.close();
      --active_;
    }
}

}  // namespace bench::tls_load
