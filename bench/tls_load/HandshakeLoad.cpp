#include "bench/tls_load/HandshakeLoad.hpp"

#include <algorithm>

#include "bench/tls_load/AttemptPool.hpp"
#include "bench/tls_load/Request.hpp"

namespace bench::tls_load {

namespace {

using namespace std::chrono_literals;

class HandshakeLoad final : public AttemptPool::Owner {
 public:
  HandshakeLoad(const Options& options, ClientTls& tls, Poller& poller, ErrorLog& errors)
      : options_(options),
        poller_(poller),
        request_(http_request(options, RequestKind::close)),
        pool_(std::min(options.connections, options.requests), options.target, request_,
              Attempt::Ending::server_closes, tls, poller, errors, *this) {
    result_.latency_ms.reserve(std::min<std::size_t>(options.requests, 1u << 22));
  }

  HandshakeResult run() {
    const auto start = Clock::now();
    const auto deadline = start + options_.duration;
    auto last_sweep = start;
    pool_.fill(start);
    while (pool_.active() > 0 && !stopping_) {
      // Wake at the deadline itself, so `seconds` (and the rate) end there, not up to a tick later.
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      for (const auto& event : poller_.wait(std::clamp(left, 0ms, 100ms))) {
        if (event.data.u64 == Poller::signal_tag)
          stopping_ = true;
        else
          pool_.on_ready(event.data.u64);
      }
      const auto now = Clock::now();
      if (now >= deadline) stopping_ = true;
      if (now - last_sweep >= 100ms) {
        pool_.sweep_timeouts(now);
        last_sweep = now;
      }
    }
    pool_.close_all();
    result_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return std::move(result_);
  }

  bool want_another(reactor::Address&) override {
    if (started_ >= options_.requests || stopping_) return false;
    ++started_;
    return true;
  }

  void completed(Attempt& attempt, Clock::time_point) override {
    ++result_.requests;
    ++(attempt.resumed() ? result_.resumed : result_.full);
    if (attempt.offered_session()) {
      ++result_.offered;
      if (!attempt.resumed()) ++result_.offered_but_full;
    }
    result_.latency_ms.push_back(
        std::chrono::duration<float, std::milli>(attempt.response_end() - attempt.started())
            .count());
  }

 private:
  const Options& options_;
  Poller& poller_;
  const std::string request_;
  AttemptPool pool_;
  HandshakeResult result_;
  std::uint64_t started_ = 0;  // attempts, failed ones included
  bool stopping_ = false;
};

}  // namespace

HandshakeResult run_handshake(const Options& options, ClientTls& tls, Poller& poller,
                              ErrorLog& errors) {
  return HandshakeLoad(options, tls, poller, errors).run();
}

}  // namespace bench::tls_load
