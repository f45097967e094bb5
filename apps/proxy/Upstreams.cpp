#include "apps/proxy/Upstreams.hpp"

#include <algorithm>
#include <atomic>
#include <utility>

#include "apps/proxy/RouteTable.hpp"
#include "reactor/Loop.hpp"
#include "reactor/TcpConnector.hpp"
#include "tls/Errors.hpp"
#include "tls/TlsTransport.hpp"

namespace apps::proxy {

Balancer::Balancer(const UpstreamHealth& health, std::vector<std::vector<unsigned>> weights,
                   std::vector<bool> least_conn)
    : health_(health), weights_(std::move(weights)), least_conn_(std::move(least_conn)) {
  for (const auto& lane : weights_) score_.emplace_back(lane.size(), 0);
  least_conn_.resize(weights_.size(), false);
}

Balancer::Balancer(const UpstreamHealth& health, std::size_t lanes)
    : Balancer(health,
               std::vector<std::vector<unsigned>>(lanes, std::vector<unsigned>(health.size(), 1))) {
}

std::optional<std::size_t> Balancer::pick(std::uint64_t now, std::uint64_t tried,
                                          std::size_t lane) {
  const std::vector<unsigned>& weight = weights_[lane];
  std::vector<std::int64_t>& score = score_[lane];
  const auto candidate = [&](std::size_t i) {
    return weight[i] != 0 && ((tried >> i) & 1U) == 0 && health_.usable(i, now);
  };
  std::uint32_t fewest = 0;
  if (least_conn_[lane]) {
    fewest = UINT32_MAX;
    for (std::size_t i = 0; i < weight.size(); ++i)
      if (candidate(i)) fewest = std::min(fewest, health_.busy(i));
  }
  std::optional<std::size_t> best;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < weight.size(); ++i) {
    if (!candidate(i) || (least_conn_[lane] && health_.busy(i) != fewest)) continue;
    score[i] += weight[i];
    total += weight[i];
    if (!best || score[i] > score[*best]) best = i;
  }
  if (best) score[*best] -= total;
  return best;
}

std::vector<bool> lane_least_conn(const ProxyOptions& options) {
  std::vector<bool> lanes{false};
  if (options.routes)
    for (const RouteGroup& group : options.routes->groups()) lanes.push_back(group.least_conn);
  return lanes;
}

std::vector<std::vector<unsigned>> lane_weights(const ProxyOptions& options) {
  const std::size_t n = options.upstreams.size();
  std::vector<std::vector<unsigned>> lanes{std::vector<unsigned>(n, 1)};
  if (!options.routes) return lanes;
  for (const RouteGroup& group : options.routes->groups()) {
    std::vector<unsigned>& lane = lanes.emplace_back(n, 0);
    for (std::size_t k = 0; k < group.upstreams.size(); ++k)
      lane[group.upstreams[k]] += k < group.weights.size() ? group.weights[k] : 1;
  }
  return lanes;
}

std::size_t IdleSurplus::sweep(std::size_t idle) {
  const std::size_t excess = idle > limit_ ? std::min(idle - limit_, low_) : 0;
  low_ = idle - excess;
  return excess;
}

Metrics::UpstreamError classify_upstream_error(const reactor::Error& error, bool connected) {
  using Kind = Metrics::UpstreamError;
  const std::error_code& code = error.code();
  if (code == reactor::make_error_code(reactor::Errc::idle_timeout)) return Kind::response_timeout;
  if (code == reactor::make_error_code(reactor::Errc::connect_timeout))
    return Kind::connect_timeout;
  if (code.category() == tls::tls_category()) return Kind::tls;
  return connected ? Kind::closed : Kind::refused;
}

UpstreamLink::UpstreamLink(std::shared_ptr<LoopUpstreams> pool, std::size_t index,
                           UpstreamUser* user)
    : pool_(std::move(pool)),
      index_(index),
      user_(user),
      parser_(http::HttpParser::Type::response, *this) {}

void UpstreamLink::set_busy(bool busy) {
  if (busy_ == busy) return;
  busy_ = busy;
  pool_->health().busy_changed(index_, busy);
}

void UpstreamLink::begin_exchange(std::string_view method, bool upgrade) {
  set_busy(true);
  parser_.expect_response_to(method);
  upgrade_asked_ = upgrade;
  switching_ = false;
  response_begun_ = false;
  if (conn_ == nullptr) return;
  conn_->set_idle_timeout(std::chrono::milliseconds(0));  // the response timer's job now
  heard_from_ = conn_->loop().now();
  // A timer still running from an earlier exchange fires no later than this one would, and
  // then measures from heard_from_: a keep-alive exchange costs no timer operation.
  if (!response_timer_ || !response_timer_->active())
    arm_response_timer(pool_->options().response_timeout);
}

bool UpstreamLink::write(std::string_view bytes) {
  if (conn_ == nullptr) return false;
  heard_from_ = conn_->loop().now();  // the upstream is taking a request: not silent
  return conn_->write(bytes);
}

void UpstreamLink::arm_response_timer(std::chrono::milliseconds delay) {
  if (delay.count() == 0 || !response_timer_) return;  // 0: no response timeout
  response_timer_->start(delay);
}

void UpstreamLink::on_response_timer() {
  if (user_ == nullptr || conn_ == nullptr) return;
  const auto limit = pool_->options().response_timeout;
  // Traffic does not restart the timer (that would cost a timer update per read): the
  // deadline is checked against the last of it when the timer fires.
  const std::uint64_t quiet = conn_->loop().now() - heard_from_;
  if (quiet < static_cast<std::uint64_t>(limit.count()))
    return arm_response_timer(std::chrono::milliseconds(limit.count() - quiet));
  lose(reactor::Error(reactor::make_error_code(reactor::Errc::idle_timeout), "upstream",
                      "no response traffic for " + std::to_string(limit.count()) + " ms"),
       Metrics::UpstreamError::response_timeout);
}

void UpstreamLink::release(bool reusable) {
  set_busy(false);
  user_ = nullptr;  // the response timer, left running, finds no exchange when it fires
  if (conn_ == nullptr) return;
  parser_.resume();
  // The user may have paused it for a slow client on the response's last bytes; idle in the
  // pool it must read, to see the upstream's close.
  conn_->resume_reading();
  if (reusable && !stray_ && !stopping_ && !conn_->is_closing() && pool_->park(*this)) return;
  conn_->close();
}

void UpstreamLink::detach() {
  set_busy(false);
  user_ = nullptr;
  if (response_timer_) response_timer_->stop();
  // A connect still under way is kept: once open it is as good as any pooled connection.
  if (conn_ != nullptr) conn_->close();
}

reactor::Connection& UpstreamLink::hand_over(std::shared_ptr<UpstreamRelay> relay) {
  relay_ = std::move(relay);
  return *conn_;
}

void UpstreamLink::on_open(reactor::Connection& conn) {
  conn_ = &conn;
  response_timer_.emplace(conn.loop(), [this] { on_response_timer(); });
  if (user_ != nullptr) return user_->on_upstream_ready(*this);
  if (stopping_ || !pool_->park(*this)) conn.close();
}

void UpstreamLink::on_data(reactor::Connection& conn, std::span<const std::byte> data) {
  if (relay_) return relay_->upstream_data(data);
  if (user_ == nullptr) return conn.close();  // an idle upstream must not talk
  heard_from_ = conn.loop().now();
  const std::string_view bytes(reinterpret_cast<const char*>(data.data()), data.size());
  const http::HttpParser::Result result = parser_.feed(bytes);
  if (user_ == nullptr) return;
  if (result.status == http::HttpParser::Status::failed) {
    const http::HttpError& e = parser_.error();
    return lose(reactor::Error(std::make_error_code(std::errc::protocol_error), "upstream response",
                               e.code + ": " + e.reason),
                Metrics::UpstreamError::protocol);
  }
  if (result.status == http::HttpParser::Status::upgraded && switching_) {
    // The switch: the user's tunnel takes this connection over, bytes after the head included.
    complete_ = false;
    stray_ = true;  // never pooled again
    if (response_timer_) response_timer_->stop();
    std::exchange(user_, nullptr)->on_upstream_switched(*this, bytes.substr(result.consumed));
    if (!relay_) conn.close();
    return;
  }
  if (result.status == http::HttpParser::Status::upgraded) {
    return lose(reactor::Error(std::make_error_code(std::errc::protocol_error), "upstream response",
                               "switched protocols, which was not asked"),
                Metrics::UpstreamError::protocol);
  }
  if (complete_) {
    complete_ = false;
    stray_ = result.consumed < bytes.size();
    return user_->on_response_complete();
  }
  user_->on_upstream_input_done();
}

void UpstreamLink::on_drain(reactor::Connection& conn) {
  if (relay_) return relay_->upstream_drain();
  heard_from_ = conn.loop().now();  // it read what we sent
  if (user_ != nullptr) user_->on_upstream_drain();
}

void UpstreamLink::on_peer_closed(reactor::Connection& conn) {
  if (relay_) return relay_->upstream_peer_closed();
  if (user_ != nullptr) {
    // A body that runs until the upstream closes ends here; anything else was cut short.
    finishing_ = true;  // no pause at the end: there is no later feed to resume in
    const http::HttpParser::Result result = parser_.finish();
    if (complete_ && result.status != http::HttpParser::Status::failed) {
      complete_ = false;
      stray_ = true;  // closed: never pooled again
      user_->on_response_complete();
    } else {
      lose(reactor::Error(std::make_error_code(std::errc::connection_reset), "upstream",
                          response_begun_ ? "closed in the middle of the response"
                                          : "closed before responding"),
           Metrics::UpstreamError::closed);
    }
  }
  conn.close();
}

void UpstreamLink::on_server_stopping(reactor::Connection& conn) {
  stopping_ = true;
  // A tunnel runs on until it ends or the drain deadline aborts it, like the client's side.
  if (user_ == nullptr && !relay_) conn.close();
}

void UpstreamLink::on_close(reactor::Connection&, const reactor::Error& error) {
  const bool opened = conn_ != nullptr;
  conn_ = nullptr;
  set_busy(false);  // the exchange's or the tunnel's end, whichever this close is
  response_timer_.reset();
  if (relay_) return relay_->upstream_closed();
  if (pooled_) pool_->forget(*this);
  if (user_ == nullptr) return;
  if (!opened) {
    const auto kind = classify_upstream_error(error, false);
    pool_->metrics().count(kind);
    std::exchange(user_, nullptr)->on_upstream_failed(error, kind);
    return;
  }
  const reactor::Error why =
      error ? error
            : reactor::Error(std::make_error_code(std::errc::connection_reset), "upstream",
                             "closed before the response was complete");
  lose(why, classify_upstream_error(why, true));
}

void UpstreamLink::lose(const reactor::Error& error, Metrics::UpstreamError kind) {
  set_busy(false);
  UpstreamUser* user = std::exchange(user_, nullptr);
  if (response_timer_) response_timer_->stop();
  if (conn_ != nullptr) conn_->close();
  if (user == nullptr) return;
  pool_->metrics().count(kind);
  user->on_upstream_lost(error, kind, response_begun_);
}

void UpstreamLink::on_message_begin() {
  response_begun_ = true;
  headers_.clear();
}

void UpstreamLink::on_start_line(const http::StartLine& line) {
  status_ = line.status;
  reason_.assign(line.reason);
  // A 101 is the final answer to a request that asked to switch (unless it names no Upgrade:
  // see on_headers_complete).
  interim_ = line.status / 100 == 1 && !(line.status == 101 && upgrade_asked_);
}

void UpstreamLink::on_header(std::string_view name, std::string_view value) {
  if (!interim_) headers_.add(name, value);
}

void UpstreamLink::on_headers_complete(const http::Framing& framing) {
  // 1xx responses are dropped: the proxy answers 100-continue itself, and one that is not
  // asked for is only informational (RFC 9110 15.2).
  // A 101 without Upgrade switches to nothing: dropped as interim, like one not asked for.
  if (status_ == 101 && !framing.upgrade) interim_ = true;
  if (interim_ || user_ == nullptr) return;
  if (observed_)
    pool_->health().responded(index_, conn_ != nullptr ? conn_->loop().now() : 0, status_);
  switching_ = status_ == 101;
  user_->on_response_head(status_, reason_, headers_, framing);
}

void UpstreamLink::on_body(std::string_view bytes) {
  if (user_ != nullptr) user_->on_response_body(bytes);
}

void UpstreamLink::on_trailer(std::string_view name, std::string_view value) {
  if (user_ != nullptr && !interim_) user_->on_response_trailer(name, value);
}

void UpstreamLink::on_message_complete() {
  if (interim_) {
    interim_ = false;
    return;
  }
  complete_ = true;
  if (!finishing_) parser_.pause();  // what follows in this input is stray: feed stops to tell
}

LoopUpstreams::LoopUpstreams(std::shared_ptr<const ProxyOptions> options, Metrics& metrics,
                             std::shared_ptr<UpstreamHealth> health,
                             std::shared_ptr<RetryBudget> budget)
    : options_(std::move(options)),
      metrics_(metrics),
      health_(std::move(health)),
      budget_(budget ? std::move(budget)
                     : std::make_shared<RetryBudget>(lane_weights(*options_).size())),
      balancer_(*health_, lane_weights(*options_), lane_least_conn(*options_)),
      idle_(options_->upstreams.size(), Idle{{}, IdleSurplus(options_->upstream_keepalive)}) {}

LoopUpstreams::~LoopUpstreams() = default;

UpstreamLink* LoopUpstreams::take_idle(std::size_t index, UpstreamUser& user) {
  auto& [idle, surplus] = idle_[index];
  while (!idle.empty()) {
    UpstreamLink* link = idle.back();
    idle.pop_back();
    surplus.fell_to(idle.size());
    link->pooled_ = false;
    // One the upstream closed (or whose idle time ran out) is on its way out: never reused.
    if (link->conn_ == nullptr || link->conn_->is_closing()) continue;
    link->user_ = &user;
    link->reused_ = true;
    return link;
  }
  return nullptr;
}

UpstreamLink* LoopUpstreams::connect(reactor::Loop& loop, std::size_t index, UpstreamUser& user) {
  auto link = std::make_unique<UpstreamLink>(shared_from_this(), index, &user);
  UpstreamLink* raw = link.get();
  reactor::ConnectOptions connect;
  connect.timeout = options_->connect_timeout;
  const UpstreamUrl& url = options_->upstreams[index];
  if (url.tls) {
    tls::TransportOptions transport;
    transport.handshake_timeout = options_->connect_timeout;
    tls::connect(loop, url.target, url.tls_context, std::move(link), connect, transport);
  } else {
    reactor::TcpConnector(loop, connect).connect(url.target, std::move(link));
  }
  return raw;
}

bool LoopUpstreams::park(UpstreamLink& link) {
  auto& idle = idle_[link.index_].links;
  if (options_->upstream_keepalive == 0 || link.conn_ == nullptr) return false;
  link.pooled_ = true;
  link.conn_->set_idle_timeout(options_->upstream_idle_timeout);
  idle.push_back(&link);
  if (idle.size() > options_->upstream_keepalive) {
    if (!sweep_timer_) {
      sweep_timer_.emplace(link.conn_->loop());
      sweep_timer_->unref();  // housekeeping: it must not hold a stopping loop open
    }
    if (!sweep_timer_->active())
      sweep_timer_->start(surplus_sweep, std::chrono::milliseconds(0), [this] { sweep(); });
  }
  return true;
}

void LoopUpstreams::forget(UpstreamLink& link) {
  auto& [idle, surplus] = idle_[link.index_];
  idle.erase(std::remove(idle.begin(), idle.end(), &link), idle.end());
  surplus.fell_to(idle.size());
  link.pooled_ = false;
}

void LoopUpstreams::sweep() {
  bool again = false;
  std::vector<UpstreamLink*> doomed;
  for (auto& [idle, surplus] : idle_) {
    const auto excess = static_cast<std::ptrdiff_t>(surplus.sweep(idle.size()));
    doomed.insert(doomed.end(), idle.begin(), idle.begin() + excess);
    idle.erase(idle.begin(), idle.begin() + excess);
    again = again || idle.size() > options_->upstream_keepalive;
  }
  // Out of the pool before the close, which may call back into forget().
  for (UpstreamLink* link : doomed) {
    link->pooled_ = false;
    if (link->conn_ != nullptr) link->conn_->close();
  }
  if (again) sweep_timer_->start(surplus_sweep, std::chrono::milliseconds(0), [this] { sweep(); });
}

namespace {
std::uint64_t next_id() {
  static std::atomic<std::uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}
}  // namespace

Upstreams::Upstreams(std::shared_ptr<const ProxyOptions> options, Metrics& metrics)
    : options_(std::move(options)),
      metrics_(metrics),
      health_(std::make_shared<UpstreamHealth>(*options_)),
      budget_(std::make_shared<RetryBudget>(lane_weights(*options_).size())),
      id_(next_id()) {
  metrics_.set_upstream_source([health = std::weak_ptr<const UpstreamHealth>(health_)] {
    const auto alive = health.lock();
    return alive ? alive->gauges() : std::vector<UpstreamGauge>{};
  });
}

namespace {
// A loop's LoopUpstreams, one per upstream set still alive (a reload makes a new set while
// connections of the old one finish).
struct LoopUpstreamSets {
  struct Entry {
    std::uint64_t id;
    std::weak_ptr<const Upstreams> set;
    std::shared_ptr<LoopUpstreams> loop_side;
  };
  std::vector<Entry> entries;
};
}  // namespace

LoopUpstreams& Upstreams::on_loop(reactor::Loop& loop) const {
  auto& entries = loop.local<LoopUpstreamSets>().entries;
  for (const auto& e : entries)
    if (e.id == id_) return *e.loop_side;
  // A new set (the first, or a reload's): forget those that are gone.
  std::erase_if(entries, [](const auto& e) { return e.set.expired(); });
  entries.push_back({id_, weak_from_this(),
                     std::make_shared<LoopUpstreams>(options_, metrics_, health_, budget_)});
  return *entries.back().loop_side;
}

}  // namespace apps::proxy
