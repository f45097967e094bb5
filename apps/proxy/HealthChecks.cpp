#include "apps/proxy/HealthChecks.hpp"

#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "apps/proxy/RouteTable.hpp"
#include "apps/proxy/UpstreamHealth.hpp"
#include "apps/proxy/Upstreams.hpp"
#include "reactor/Loop.hpp"
#include "reactor/Timer.hpp"

namespace apps::proxy {

namespace {

using Clock = std::chrono::steady_clock;

// One upstream's checks: a timer every interval, at most one check in flight (a check that
// outlives its interval delays the next one rather than piling up), each bounded by its timeout.
class Probe final : private UpstreamUser {
 public:
  Probe(reactor::Loop& loop, LoopUpstreams& pool, std::size_t index)
      : loop_(loop), pool_(pool), index_(index), every_(loop), deadline_(loop) {
    const HealthPolicy& policy = pool_.health().policy(index_);
    const UpstreamUrl& url = pool_.options().upstreams[index_];
    request_ = "GET " + policy.check_path + " HTTP/1.1\r\nHost: " + url.authority +
               "\r\nUser-Agent: tlsreactor-proxy health check\r\nConnection: close\r\n\r\n";
    // The first check at once: a reload's new set starts with a known state.
    every_.start(std::chrono::milliseconds(0), policy.check_interval, [this] { start(); });
  }
  ~Probe() { drop(); }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

 private:
  void start() {
    if (link_ != nullptr || connecting_) return;
    status_ = 0;
    started_ = Clock::now();
    connecting_ = true;
    deadline_.start(pool_.health().policy(index_).check_timeout, std::chrono::milliseconds(0),
                    [this] {
                      drop();
                      finish(false, "no answer within the check timeout");
                    });
    UpstreamLink* link = pool_.connect(loop_, index_, *this);
    if (connecting_) link_ = link;  // else a connect that failed at once has reported already
  }

  // Lets go of the connection (the link never calls back after detach).
  void drop() {
    deadline_.stop();
    if (link_ != nullptr) std::exchange(link_, nullptr)->detach();
    connecting_ = false;
  }

  void finish(bool passed, const std::string& why) {
    const auto took =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
    pool_.health().checked(index_, loop_.now(), passed, took, why);
  }

  // UpstreamUser
  void on_upstream_ready(UpstreamLink& link) override {
    connecting_ = false;
    link_ = &link;
    link.unobserved();
    link.begin_exchange("GET");
    link.write(request_);
  }
  void on_upstream_failed(const reactor::Error& error, Metrics::UpstreamError) override {
    link_ = nullptr;
    deadline_.stop();
    connecting_ = false;
    finish(false, "check: " + error.message());
  }
  void on_upstream_drain() override {}
  void on_response_head(int status, std::string_view, const HeaderList&,
                        const http::Framing&) override {
    status_ = status;
  }
  void on_response_body(std::string_view) override {}
  void on_response_trailer(std::string_view, std::string_view) override {}
  void on_upstream_input_done() override {}
  void on_response_complete() override {
    UpstreamLink* link = std::exchange(link_, nullptr);
    deadline_.stop();
    link->release(false);
    const int expected = pool_.health().policy(index_).check_status;
    const bool passed = expected != 0 ? status_ == expected : status_ >= 200 && status_ < 400;
    finish(passed, "check answered " + std::to_string(status_));
  }
  void on_upstream_switched(UpstreamLink&, std::string_view) override {}
  void on_upstream_lost(const reactor::Error& error, Metrics::UpstreamError, bool) override {
    link_ = nullptr;
    deadline_.stop();
    finish(false, "check: " + error.message());
  }

  reactor::Loop& loop_;
  LoopUpstreams& pool_;  // held by the round's config
  std::size_t index_;
  reactor::Timer every_;
  reactor::Timer deadline_;
  std::string request_;
  UpstreamLink* link_ = nullptr;
  bool connecting_ = false;
  int status_ = 0;
  Clock::time_point started_;
};

}  // namespace

// The checks of one configuration: a Probe per checked upstream (an upstream in two checked
// groups is checked once, by the first group's policy, as UpstreamHealth keeps one per
// upstream). On the checks' loop only.
class CheckRound {
 public:
  CheckRound(reactor::Loop& loop, std::shared_ptr<const ProxyConfig> config)
      : config_(std::move(config)) {
    LoopUpstreams& pool = config_->upstreams->on_loop(loop);
    for (std::size_t i = 0; i < pool.health().size(); ++i)
      if (pool.health().policy(i).active())
        probes_.push_back(std::make_unique<Probe>(loop, pool, i));
  }

 private:
  std::shared_ptr<const ProxyConfig> config_;  // keeps the pools the probes use
  std::vector<std::unique_ptr<Probe>> probes_;
};

HealthChecks::HealthChecks() {
  std::promise<reactor::Loop*> started;
  auto ready = started.get_future();
  thread_ = std::thread([this, &started] {
    reactor::Loop loop;
    {
      // Keeps run() going while no check is set up, until the destructor's stop().
      reactor::Timer keep(loop);
      keep.start(std::chrono::hours(1), std::chrono::hours(1), [] {});
      started.set_value(&loop);
      loop.run();
      round_.reset();
    }
  });
  loop_ = ready.get();
}

HealthChecks::~HealthChecks() {
  loop_->post([this] {
    round_.reset();
    loop_->stop();
  });
  thread_.join();
}

void HealthChecks::watch(std::shared_ptr<const ProxyConfig> config) {
  loop_->post([this, config = std::move(config)] {
    round_.reset();
    if (config) round_ = std::make_unique<CheckRound>(*loop_, config);
  });
}

}  // namespace apps::proxy
