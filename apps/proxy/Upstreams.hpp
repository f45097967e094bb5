// The upstreams a proxy forwards to: which one to try next (round robin, skipping those whose
// connect failed recently), and per loop a bounded pool of idle keep-alive connections to
// each. Everything per loop lives on that loop's thread, so the request path takes no lock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/http/HttpParser.hpp"
#include "apps/proxy/HeaderRewrite.hpp"
#include "apps/proxy/Metrics.hpp"
#include "apps/proxy/ProxyOptions.hpp"
#include "apps/proxy/RetryBudget.hpp"
#include "apps/proxy/Tunnel.hpp"
#include "apps/proxy/UpstreamHealth.hpp"
#include "reactor/Handler.hpp"
#include "reactor/Timer.hpp"
#include "reactor/WheelTimer.hpp"

namespace apps::proxy {

// Smooth weighted round robin (nginx's) over the upstreams `health` finds usable, for one
// loop: each pick adds every candidate's weight to its score, takes the highest score (the
// lowest index on a tie) and takes the candidates' total off the winner. Weights 3 and 1 go
// a a b a: the heavy member's turns spread out, not bunched. Equal weights are plain round
// robin. Time is passed in (the loop's clock, in ms), so tests drive it without waiting.
class Balancer {
 public:
  // One weight per upstream index (0: not in the lane), per lane: one lane per route group
  // and one for requests without routes, each with its own scores, so that picks for one
  // group do not move another's. `health` outlives the balancer (its LoopUpstreams holds it).
  // `least_conn` (per lane; absent: none): the lane picks among the candidates with the fewest
  // busy connections (UpstreamHealth::busy), by the weighted turn among those.
  Balancer(const UpstreamHealth& health, std::vector<std::vector<unsigned>> weights,
           std::vector<bool> least_conn = {});
  // Every lane has every upstream, with weight 1.
  explicit Balancer(const UpstreamHealth& health, std::size_t lanes = 1);

  // The next upstream of `lane` that is neither in `tried` (bit i: upstream i) nor unusable at
  // `now`; nullopt when there is none.
  std::optional<std::size_t> pick(std::uint64_t now, std::uint64_t tried, std::size_t lane = 0);
  std::size_t size() const { return health_.size(); }

 private:
  const UpstreamHealth& health_;
  std::vector<std::vector<unsigned>> weights_;    // [lane][upstream]
  std::vector<std::vector<std::int64_t>> score_;  // [lane][upstream]
  std::vector<bool> least_conn_;                  // [lane]
};

// The balancer's weights for `options`: lane 0 every upstream with weight 1, then one lane per
// route group with its members' weights.
std::vector<std::vector<unsigned>> lane_weights(const ProxyOptions& options);
// Which of those lanes balance by least connections.
std::vector<bool> lane_least_conn(const ProxyOptions& options);

// When idle pooled connections beyond the pool's limit are closed: not the moment they come
// back. Under steady load with more exchanges in flight than the limit, the excess is taken
// again within a round trip, and closing it only to connect anew costs a TCP handshake, an
// accept and a close each time (at 50 clients over a pool of 32 that was more than a third of
// the proxy's CPU per request). A periodic sweep closes, least recently used first, the idle
// connections beyond the limit that no exchange needed since the sweep before. Time-free, so
// tests drive it directly.
class IdleSurplus {
 public:
  explicit IdleSurplus(std::size_t limit) : limit_(limit) {}
  // The idle count fell to `idle` (one taken by an exchange, or closed).
  void fell_to(std::size_t idle) { low_ = std::min(low_, idle); }
  // A sweep with `idle` connections idle: how many of the least recently used ones to close.
  // Only those idle since the last sweep qualify (the pool takes the most recent first, so the
  // `low_` oldest were never touched), and `limit` stay. Starts the next interval.
  std::size_t sweep(std::size_t idle);

 private:
  std::size_t limit_;
  std::size_t low_ = 0;  // fewest idle since the last sweep (0 before the first: unknown)
};

class UpstreamLink;

// The exchange a link serves: a ProxyExchange forwarding one request. Calls come from the
// link's connection callbacks; the link never calls its user after on_upstream_lost or
// on_upstream_failed, nor after release()/detach().
class UpstreamUser {
 public:
  // The connection is open (for https: handshake done and verified).
  virtual void on_upstream_ready(UpstreamLink& link) = 0;
  // The connect (or TLS handshake) failed; the link is gone.
  virtual void on_upstream_failed(const reactor::Error& error, Metrics::UpstreamError kind) = 0;
  virtual void on_upstream_drain() = 0;
  // The final response's head (1xx interim responses are dropped before this).
  virtual void on_response_head(int status, std::string_view reason, const HeaderList& headers,
                                const http::Framing& framing) = 0;
  virtual void on_response_body(std::string_view bytes) = 0;
  // A trailer field after a chunked body.
  virtual void on_response_trailer(std::string_view name, std::string_view value) = 0;
  // The link has handed over everything of one read (a good moment to flush).
  virtual void on_upstream_input_done() = 0;
  // The response is complete; call release() or detach() on the link.
  virtual void on_response_complete() = 0;
  // The upstream answered 101 to an exchange begun with `upgrade` (its head came in
  // on_response_head): `rest` is what it sent after the head, the first tunnel bytes. The user
  // takes the connection over with link.hand_over() before returning, or the link closes it.
  virtual void on_upstream_switched(UpstreamLink& link, std::string_view rest) = 0;
  // The connection ended (or broke the protocol) before the response was complete; the link
  // is gone. `response_begun`: some byte of a response had arrived.
  virtual void on_upstream_lost(const reactor::Error& error, Metrics::UpstreamError kind,
                                bool response_begun) = 0;

 protected:
  ~UpstreamUser() = default;
};

class LoopUpstreams;

// One connection to an upstream, as its Handler. Owned by the connection; pooled while idle.
class UpstreamLink final : public reactor::Handler, private http::HttpEvents {
 public:
  UpstreamLink(std::shared_ptr<LoopUpstreams> pool, std::size_t index, UpstreamUser* user);

  std::size_t index() const { return index_; }
  // Taken from the pool rather than connected for this exchange: the upstream may have closed
  // it just before the request went out.
  bool reused() const { return reused_; }
  // For the user between on_upstream_ready and the end of its exchange.
  bool write(std::string_view bytes);
  void pause_reading() {
    if (conn_ != nullptr) conn_->pause_reading();
  }
  void resume_reading() {
    if (conn_ != nullptr) conn_->resume_reading();
  }
  // Starts an exchange: the response to come answers `method`; the response timeout runs.
  // `upgrade`: the request asks to switch protocols, so a 101 answer is final (see
  // UpstreamUser::on_upstream_switched) instead of interim.
  void begin_exchange(std::string_view method, bool upgrade = false);
  // A health check's link (HealthChecks): its answers are the check's to judge, so they are not
  // reported to the set's UpstreamHealth as a request's answers are.
  void unobserved() { observed_ = false; }
  // From on_upstream_switched: from now on this connection's callbacks go to `relay`, until
  // its on_close; never pooled again. Returns the connection to relay to.
  reactor::Connection& hand_over(std::shared_ptr<UpstreamRelay> relay);
  // The exchange ended well: back to the pool when `reusable` (and the response left no stray
  // bytes and the pool has room), else closed.
  void release(bool reusable);
  // The user goes away: the connection closes (an unfinished connect is pooled once open).
  void detach();

  // reactor::Handler
  void on_open(reactor::Connection& conn) override;
  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override;
  void on_drain(reactor::Connection& conn) override;
  void on_peer_closed(reactor::Connection& conn) override;
  void on_server_stopping(reactor::Connection& conn) override;
  void on_close(reactor::Connection& conn, const reactor::Error& error) override;

 private:
  friend class LoopUpstreams;

  // http::HttpEvents (the response parser)
  void on_message_begin() override;
  void on_start_line(const http::StartLine& line) override;
  void on_header(std::string_view name, std::string_view value) override;
  void on_headers_complete(const http::Framing& framing) override;
  void on_body(std::string_view bytes) override;
  void on_trailer(std::string_view name, std::string_view value) override;
  void on_message_complete() override;

  void lose(const reactor::Error& error, Metrics::UpstreamError kind);
  // The response timeout. Not the connection's idle timeout: that one closes gracefully, and
  // the user would hear of it (and the client get its 504) only after the close's linger,
  // which a hung upstream stretches to the whole close timeout.
  void arm_response_timer(std::chrono::milliseconds delay);
  void on_response_timer();

  std::shared_ptr<LoopUpstreams> pool_;  // outlives a reload that replaced its set
  std::size_t index_;
  UpstreamUser* user_;
  reactor::Connection* conn_ = nullptr;
  std::shared_ptr<UpstreamRelay> relay_;  // set once switched: the link only forwards to it
  // Made on open, on the connection's loop: a deadline on the loop's wheel, not a libuv handle
  // per upstream connection.
  std::optional<reactor::WheelTimer> response_timer_;
  // Loop time of the exchange's last traffic with the upstream. Reading paused for a slow
  // client makes none: a client that never reads cannot hold both connections for ever.
  std::uint64_t heard_from_ = 0;
  http::HttpParser parser_;
  HeaderList headers_;
  std::string reason_;
  int status_ = 0;
  bool reused_ = false;
  bool pooled_ = false;
  bool upgrade_asked_ = false;  // the exchange's request asked to switch protocols
  bool switching_ = false;      // the user got a 101 head: the parser's upgrade is the switch
  bool response_begun_ = false;
  bool interim_ = false;    // the response being parsed is a 1xx, dropped
  bool complete_ = false;   // the final response ended during the current feed
  bool stray_ = false;      // bytes after a complete response: never reuse
  bool stopping_ = false;   // the server drains: no more pooling
  bool finishing_ = false;  // parsing the upstream's close
  bool observed_ = true;    // answers count as passive health evidence (not a check's)
  bool busy_ = false;       // counted in the health's busy(): an exchange or tunnel is on it
  // The one place busy_ moves, keeping the shared count in step.
  void set_busy(bool busy);
};

// The per-loop side: balancer and idle pools. Loop thread only.
class LoopUpstreams : public std::enable_shared_from_this<LoopUpstreams> {
 public:
  // `budget`: the set's retry budget, shared by every loop (one of its own when null).
  LoopUpstreams(std::shared_ptr<const ProxyOptions> options, Metrics& metrics,
                std::shared_ptr<UpstreamHealth> health, std::shared_ptr<RetryBudget> budget = {});
  ~LoopUpstreams();
  LoopUpstreams(const LoopUpstreams&) = delete;
  LoopUpstreams& operator=(const LoopUpstreams&) = delete;

  const ProxyOptions& options() const { return *options_; }
  Metrics& metrics() { return metrics_; }
  Balancer& balancer() { return balancer_; }
  // The set's health, shared with every loop.
  UpstreamHealth& health() { return *health_; }
  const std::shared_ptr<RetryBudget>& retry_budget() { return budget_; }

  // An idle pooled connection to upstream `index`, now the user's; nullptr when none.
  UpstreamLink* take_idle(std::size_t index, UpstreamUser& user);
  // A new connection to upstream `index`; ends in user.on_upstream_ready or on_upstream_failed.
  UpstreamLink* connect(reactor::Loop& loop, std::size_t index, UpstreamUser& user);
  std::size_t idle_count(std::size_t index) const { return idle_[index].links.size(); }

  // How often idle connections beyond --upstream-keepalive are looked at (see IdleSurplus).
  static constexpr std::chrono::milliseconds surplus_sweep{1000};

 private:
  friend class UpstreamLink;
  bool park(UpstreamLink& link);  // false when nothing may be pooled
  void forget(UpstreamLink& link);
  void sweep();

  struct Idle {
    std::vector<UpstreamLink*> links;  // most recently used last
    IdleSurplus surplus;
  };

  std::shared_ptr<const ProxyOptions> options_;
  Metrics& metrics_;
  std::shared_ptr<UpstreamHealth> health_;
  std::shared_ptr<RetryBudget> budget_;
  Balancer balancer_;
  std::vector<Idle> idle_;                     // per upstream
  std::optional<reactor::Timer> sweep_timer_;  // made on the loop of the first surplus
};

// The upstream set shared by every loop: hands each loop its own LoopUpstreams, all sharing one
// UpstreamHealth (which `metrics` then reports, until a newer set replaces it). Make it with
// make_shared (a loop forgets its LoopUpstreams once the set is gone).
class Upstreams : public std::enable_shared_from_this<Upstreams> {
 public:
  Upstreams(std::shared_ptr<const ProxyOptions> options, Metrics& metrics);
  // `loop`'s LoopUpstreams for this set, made on first use and kept in the loop's slot
  // (reactor::Loop::local), so two loops on one thread never share a pool. The loop keeps it
  // while the set lives and until it closes; connections still using it (pooled after a reload
  // made a new set) keep it too. Called on `loop`'s thread.
  LoopUpstreams& on_loop(reactor::Loop& loop) const;

 private:
  std::shared_ptr<const ProxyOptions> options_;
  Metrics& metrics_;
  std::shared_ptr<UpstreamHealth> health_;
  std::shared_ptr<RetryBudget> budget_;
  std::uint64_t id_;  // unique per process: an address may be reused by a later set
};

// How a failed or broken upstream connection is counted.
Metrics::UpstreamError classify_upstream_error(const reactor::Error& error, bool connected);

}  // namespace apps::proxy
