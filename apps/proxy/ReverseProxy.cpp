#include "apps/proxy/ReverseProxy.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>
#include <utility>

#include "apps/http/Chunked.hpp"
#include "apps/http/Fields.hpp"
#include "apps/http/HttpParser.hpp"
#include "apps/http/VersionSelect.hpp"
#include "apps/proxy/ClientRecord.hpp"
#include "apps/proxy/ConnectProxy.hpp"
#include "apps/proxy/HeaderRewrite.hpp"
#include "apps/proxy/ProxyExchange.hpp"
#include "apps/proxy/Tunnel.hpp"
#include "apps/proxy/UpstreamRoute.hpp"
#include "apps/proxy/Upstreams.hpp"
#include "reactor/Log.hpp"
#include "reactor/Loop.hpp"
#include "reactor/WheelTimer.hpp"
#include "tls/Errors.hpp"
#include "tls/TlsTransport.hpp"

namespace apps::proxy {
namespace {

using Ms = std::chrono::milliseconds;

// Unparsed client bytes kept while a request waits (for its upstream, for a response before
// the next pipelined one): past this the client's reading pauses.
constexpr std::size_t kPendingLimit = 64 * 1024;
// Writes up to this size are gathered into one (a head with a small body, chunk framing with
// its data): one TLS record and one syscall instead of several. Larger ones go out directly.
constexpr std::size_t kCoalesce = 16 * 1024;

// What the client timer is measuring.
enum class Wait { none, idle, head, body };

class ClientHandler final : public reactor::Handler,
                            private http::HttpEvents,
                            private UpstreamUser {
 public:
  ClientHandler(std::shared_ptr<const ProxyOptions> options,
                std::shared_ptr<const Upstreams> upstreams, Metrics& metrics, AccessLog* log)
      : options_(std::move(options)),
        upstreams_(std::move(upstreams)),
        metrics_(metrics),
        access_log_(log),
        parser_(http::HttpParser::Type::request, *this, options_->limits) {}

  void on_open(reactor::Connection& conn) override {
    conn_ = &conn;
    conn.set_idle_timeout(Ms(0));  // this handler times each phase itself
    timer_.emplace(conn.loop(), [this] { on_timer(); });
    pool_ = &upstreams_->on_loop(conn.loop());
    client_ip_ = conn.peer_address().ip();
    record_connection(conn, record_);
    // Until a first byte arrives, a silent connection is closed as silently.
    arm(Wait::idle, options_->header_timeout);
  }

  void on_data(reactor::Connection&, std::span<const std::byte> data) override {
    if (tunnel_) return tunnel_->data(Tunnel::Side::client, data);
    if (closing_) return;
    last_read_ = now();
    pump(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  }

  void on_drain(reactor::Connection&) override {
    if (tunnel_) return tunnel_->drain(Tunnel::Side::client);
    if (down_blocked_ && link_ != nullptr) {
      down_blocked_ = false;
      link_->resume_reading();
    }
  }

  void on_peer_closed(reactor::Connection&) override {
    if (tunnel_) return tunnel_->peer_closed(Tunnel::Side::client);
    if (closing_) return;
    peer_closed_ = true;
    if (in_request_ && request_done_) return;  // answered first (on_response_complete)
    if (in_request_) {
      reactor::log::info(record_.client + ": closed in the middle of a request");
      drop_upstream();
    }
    close_now();
  }

  void on_server_stopping(reactor::Connection&) override {
    draining_ = true;
    if (tunnel_ || closing_) return;
    close_after_ = true;  // the response in flight says Connection: close
    if (!in_request_ && pending_.empty()) close_now();
  }

  void on_close(reactor::Connection&, const reactor::Error&) override {
    if (tunnel_) tunnel_->closed(Tunnel::Side::client);
    drop_upstream();
    if (in_request_) finish_request(response_started_ ? status_ : 0);
    timer_.reset();
    conn_ = nullptr;
  }

 private:
  std::uint64_t now() const { return conn_->loop().now(); }

  // Whether the request parser may take input now.
  bool can_parse() const {
    return !closing_ && !tunnel_ && !connecting_ && !up_blocked_ && !(in_request_ && request_done_);
  }

  // Feeds the parser what is pending, then `fresh`, as far as the exchange allows; keeps the
  // rest for later, in order.
  void pump(std::string_view fresh) {
    while (true) {
      if (!can_parse()) {
        if (!closing_ && !tunnel_) pending_.append(fresh);
        break;
      }
      std::string_view input;
      if (!pending_.empty()) {
        feeding_.swap(pending_);
        pending_.clear();
        input = feeding_;
      } else if (!fresh.empty()) {
        input = std::exchange(fresh, {});
      } else {
        break;
      }
      parser_.resume();
      const http::HttpParser::Result result = parser_.feed(input);
      flush_upstream();
      record_.bytes_in += result.consumed;
      const std::string_view rest = input.substr(result.consumed);
      if (result.status == http::HttpParser::Status::failed) {
        const http::HttpError& e = parser_.error();
        return fail(e.status, e.reason + " (" + e.code + ")");
      }
      if (result.status == http::HttpParser::Status::upgraded) {
        if (connect_) return start_tunnel(rest);
        // An Upgrade request: what follows is HTTP again unless the upstream switches (then
        // it is the tunnel's, taken from pending_). Either way it waits for the response.
        parser_.resume_after_upgrade();
      }
      // Paused: the rest waits, ahead of anything fresh (which the next turn appends).
      if (result.status != http::HttpParser::Status::ok) pending_.assign(rest);
    }
    flush_upstream();
    update_reading();
  }

  // Bytes for the upstream: small ones gather in up_out_ (a head and a small body leave in
  // one write), large ones go straight from the read buffer after what is gathered.
  void write_upstream(std::string_view bytes) {
    if (up_out_.size() + bytes.size() <= kCoalesce) {
      up_out_.append(bytes);
      return;
    }
    flush_upstream();
    if (link_ != nullptr && !link_->write(bytes)) up_blocked_ = true;
  }

  void flush_upstream() {
    if (up_out_.empty() || connecting_) return;
    if (link_ != nullptr && !link_->write(up_out_)) up_blocked_ = true;
    up_out_.clear();
  }

  // The same for the client: the response head leaves with the first body bytes.
  void send_client(std::string_view bytes) {
    if (out_.size() + bytes.size() <= kCoalesce) {
      out_.append(bytes);
      return;
    }
    flush_client();
    if (!write_client(bytes)) client_blocked();
  }

  void flush_client() {
    if (out_.empty()) return;
    if (!write_client(out_)) client_blocked();
    out_.clear();
  }

  void client_blocked() {
    if (link_ != nullptr && !down_blocked_) {
      down_blocked_ = true;
      link_->pause_reading();
    }
  }

  void update_reading() {
    if (closing_ || tunnel_ || conn_ == nullptr) return;
    const bool pause = pending_.size() >= kPendingLimit;
    if (pause == reading_paused_) return;
    reading_paused_ = pause;
    if (pause)
      conn_->pause_reading();
    else
      conn_->resume_reading();
  }

  // The one deadline (on the loop's wheel) moves lazily: arm() records the deadline and
  // re-arms only when the armed one would come too late; one that comes early is armed again
  // for the deadline, and one no longer wanted fires into Wait::none. A keep-alive request so
  // costs no timer operation at all, not even the wheel's store.
  void arm(Wait wait, Ms timeout) {
    wait_ = timeout.count() == 0 ? Wait::none : wait;
    if (wait_ == Wait::none) return;
    deadline_ = now() + static_cast<std::uint64_t>(timeout.count());
    if (timer_due_ != 0 && timer_due_ <= deadline_) return;
    start_timer(timeout);
  }

  void start_timer(Ms delay) {
    timer_due_ = now() + static_cast<std::uint64_t>(delay.count());
    timer_->start(delay);
  }

  void on_timer() {
    timer_due_ = 0;
    if (wait_ == Wait::none) return;
    if (now() < deadline_) return start_timer(Ms(deadline_ - now()));
    switch (wait_) {
      case Wait::none:
        return;
      case Wait::idle:
        return close_now();
      case Wait::head:
        return fail(408,
                    "request head not received within " + seconds_text(options_->header_timeout));
      case Wait::body: {
        // Reads do not restart the timer (that would cost a timer update per read): the
        // deadline is checked against the last read when it fires.
        // Not the client's fault while the proxy itself holds its body back.
        if (up_blocked_ || reading_paused_) return arm(Wait::body, options_->body_timeout);
        const auto quiet = now() - last_read_;
        const auto limit = static_cast<std::uint64_t>(options_->body_timeout.count());
        if (quiet < limit) return arm(Wait::body, Ms(limit - quiet));
        return fail(408, "request body stalled for " + seconds_text(options_->body_timeout));
      }
    }
  }

  // http::HttpEvents: the request.
  void on_message_begin() override {
    in_request_ = true;
    head_done_ = request_done_ = response_started_ = false;
    connect_ = websocket_ = expect_continue_ = false;
    route_.begin();
    req_headers_.clear();
    trailers_.clear();
    record_.method.clear();
    record_.target.clear();
    record_.bytes_in = 0;
    record_.bytes_out = 0;
    record_.upstream.clear();
    record_.upstream_ms = 0;
    status_ = 0;
    if (access_log_ != nullptr) started_ = Clock::now();
    arm(Wait::head, options_->header_timeout);
  }

  void on_start_line(const http::StartLine& line) override {
    record_.method.assign(line.method);
    record_.target.assign(line.target);
    http10_ = line.http_major == 1 && line.http_minor == 0;
    record_.protocol = http10_ ? "HTTP/1.0" : "HTTP/1.1";
    connect_ = line.method == "CONNECT";
  }

  void on_header(std::string_view name, std::string_view value) override {
    if (http::equals_nocase(name, "expect") && http::lists_token(value, "100-continue"))
      expect_continue_ = true;
    req_headers_.add(name, value);
  }

  void on_headers_complete(const http::Framing& framing) override {
    head_done_ = true;
    arm(Wait::none, Ms(0));
    if (connect_) return;  // the tunnel opens once the parser hands over the rest
    req_framing_ = framing;
    websocket_ = framing.upgrade &&
                 is_websocket_upgrade(record_.method, http10_, req_headers_, framing.has_body);
    req_chunked_ = framing.chunked;
    keep_alive_ = framing.keep_alive;
    go(route_.first(*pool_, now()));
  }

  void on_body(std::string_view bytes) override {
    if (link_ == nullptr) return;
    // A full upstream queue does not stop this input (it is already in memory, at most a read
    // or two); can_parse() holds back the next until the upstream drains.
    if (!req_chunked_) return write_upstream(bytes);
    frame_chunk(
        up_out_, bytes, [this] { flush_upstream(); },
        [this](std::string_view data) { write_upstream(data); });
  }

  // One chunk of a body the proxy sends chunked, into `buffer` (up_out_ or out_): a small one is
  // gathered with what precedes it (one write, one TLS record), a large one is framed around a
  // direct `send` of its bytes.
  template <typename Flush, typename Send>
  static void frame_chunk(std::string& buffer, std::string_view bytes, Flush flush, Send send) {
    if (bytes.size() <= kCoalesce) {
      http::append_chunk(buffer, bytes);
      if (buffer.size() > kCoalesce) flush();
      return;
    }
    http::append_chunk_size(buffer, bytes.size());
    send(bytes);
    buffer.append("\r\n");
  }

  void on_trailer(std::string_view name, std::string_view value) override {
    trailers_.append(name).append(": ").append(value).append("\r\n");
  }

  void on_message_complete() override {
    if (connect_) return;
    request_done_ = true;
    if (link_ != nullptr && req_chunked_) http::append_last_chunk(up_out_, trailers_);
    if (wait_ == Wait::body) arm(Wait::none, Ms(0));
    parser_.pause();  // a pipelined request waits for this one's response
  }

  // Takes the route's next step: a pooled connection to its upstream (or a new one), a new
  // connection, or the error answer.
  void go(const UpstreamRoute::Next& next) {
    using Step = UpstreamRoute::Next::Step;
    if (next.step == Step::answer) return fail(next.status, next.why);
    if (access_log_ != nullptr) record_.upstream = options_->upstreams[next.index].text;
    if (next.step == Step::pooled)
      if (UpstreamLink* pooled = pool_->take_idle(next.index, *this))
        return start_exchange(*pooled);
    connect_to(next.index);
  }

  void connect_to(std::size_t index) {
    connecting_ = true;
    // A body waits until there is somewhere to send it. A bodiless request is not paused: its
    // end must be parsed now, as no more input may ever come to resume it.
    if (req_framing_.has_body) parser_.pause();
    link_ = pool_->connect(conn_->loop(), index, *this);
  }

  void start_exchange(UpstreamLink& link) {
    link_ = &link;
    connecting_ = false;
    link_reused_ = link.reused();
    link.begin_exchange(record_.method, websocket_);
    RequestFacts facts;
    facts.method = record_.method;
    facts.target = record_.target;
    facts.client_ip = client_ip_;
    facts.client_tls = options_->tls;
    const UpstreamUrl& url = options_->upstreams[link.index()];
    facts.upstream_host = url.authority;
    facts.websocket = websocket_;
    if (req_chunked_) {
      facts.body = BodyFraming::chunked;
    } else if (req_framing_.content_length) {
      facts.body = BodyFraming::length;
      facts.content_length = *req_framing_.content_length;
    }
    up_out_.clear();
    write_request_head(up_out_, facts, req_headers_);  // sent with the body's first bytes
    if (access_log_ != nullptr) upstream_started_ = Clock::now();
    const bool body_to_come = req_framing_.has_body && !request_done_;
    if (body_to_come && expect_continue_ && !http10_) write_client("HTTP/1.1 100 Continue\r\n\r\n");
    if (body_to_come) arm(Wait::body, options_->body_timeout);
  }

  // UpstreamUser
  void on_upstream_ready(UpstreamLink& link) override {
    start_exchange(link);
    pump({});
  }

  void on_upstream_failed(const reactor::Error& error, Metrics::UpstreamError) override {
    link_ = nullptr;
    connecting_ = false;
    const UpstreamRoute::Next next = route_.connect_failed(*pool_, now(), error);
    go(next);
    if (next.step != UpstreamRoute::Next::Step::answer) pump({});
  }

  void on_upstream_drain() override {
    if (!up_blocked_) return;
    up_blocked_ = false;
    pump({});
  }

  void on_response_head(int status, std::string_view reason, const HeaderList& headers,
                        const http::Framing& framing) override {
    status_ = status;
    resp_keep_alive_ = framing.keep_alive;
    resp_trailers_.clear();
    ResponseFacts facts;
    facts.status = status;
    facts.reason = reason;
    facts.client_http10 = http10_;
    facts.switching = status == 101;  // only ever the answer to a WebSocket request
    if (!framing.has_body) {
      resp_body_ = BodyFraming::none;
    } else if (framing.content_length && !framing.chunked) {
      resp_body_ = BodyFraming::length;
      facts.content_length = *framing.content_length;
    } else if (!http10_) {
      resp_body_ = BodyFraming::chunked;
    } else {
      resp_body_ = BodyFraming::until_close;  // an HTTP/1.0 client reads to the close
      close_after_ = true;
    }
    facts.body = resp_body_;
    // A response that comes before the whole request (an early error) ends the connection:
    // the rest of the request is not read.
    if (!keep_alive_ || !request_done_ || draining_) close_after_ = true;
    facts.keep_alive = !close_after_;
    out_.clear();
    write_response_head(out_, facts, headers);  // sent with the body's first bytes
    response_started_ = true;
  }

  void on_response_body(std::string_view bytes) override {
    if (resp_body_ != BodyFraming::chunked) return send_client(bytes);
    frame_chunk(
        out_, bytes, [this] { flush_client(); },
        [this](std::string_view data) { send_client(data); });
  }

  // Trailers go on to a client that gets the body chunked; otherwise there is no place for them.
  void on_response_trailer(std::string_view name, std::string_view value) override {
    if (resp_body_ == BodyFraming::chunked)
      resp_trailers_.append(name).append(": ").append(value).append("\r\n");
  }

  void on_upstream_input_done() override { flush_client(); }

  void on_response_complete() override {
    if (resp_body_ == BodyFraming::chunked) http::append_last_chunk(out_, resp_trailers_);
    flush_client();
    if (access_log_ != nullptr) record_.upstream_ms = milliseconds_since(upstream_started_);
    UpstreamLink* link = std::exchange(link_, nullptr);
    down_blocked_ = false;
    link->release(resp_keep_alive_ && request_done_);
    finish_request(status_);
    if (close_after_ || !request_done_) return close_now();
    arm(Wait::idle, options_->idle_timeout);
    pump({});  // a pipelined request may be waiting
    // A client that finished sending gets the requests it sent whole, then the close.
    if (peer_closed_ && !(in_request_ && request_done_)) close_now();
  }

  // The upstream switched to the WebSocket: the 101 head goes out and both connections become
  // one tunnel, with what either side sent after its head.
  void on_upstream_switched(UpstreamLink& link, std::string_view rest) override {
    flush_client();
    link_ = nullptr;
    down_blocked_ = up_blocked_ = false;
    in_request_ = false;  // the tunnel counts and logs the request when it ends
    if (access_log_ != nullptr) record_.upstream_ms = milliseconds_since(upstream_started_);
    tunnel_ =
        std::make_shared<Tunnel>(*conn_, tunnel_setup(Metrics::TunnelKind::websocket), pending_);
    pending_.clear();
    tunnel_->join(link.hand_over(tunnel_), 101, {}, rest);
    // A client that finished sending before the switch: its FIN goes on to the upstream.
    if (peer_closed_) tunnel_->peer_closed(Tunnel::Side::client);
  }

  Tunnel::Setup tunnel_setup(Metrics::TunnelKind kind) {
    arm(Wait::none, Ms(0));
    Tunnel::Setup setup;
    setup.kind = kind;
    setup.idle_timeout = options_->tunnel_idle_timeout;
    setup.metrics = &metrics_;
    setup.access_log = access_log_;
    setup.record = record_;
    setup.started = started_;
    return setup;
  }

  void on_upstream_lost(const reactor::Error& error, Metrics::UpstreamError kind,
                        bool response_begun) override {
    link_ = nullptr;
    down_blocked_ = false;
    up_blocked_ = false;
    if (response_started_) {
      reactor::log::info(record_.client + " " + record_.method + " " + record_.target +
                         ": upstream broke off the response (" + error.message() +
                         "), aborting the client connection");
      return abort_client();
    }
    go(route_.lost(*options_, error, kind, link_reused_, response_begun, req_framing_.has_body));
  }

  // The end of a request, answered or not: one access-log line and the counters.
  void finish_request(int status) {
    if (!in_request_) return;
    in_request_ = false;
    proxy::finish_request(metrics_, access_log_, record_, status, started_);
  }

  bool write_client(std::string_view bytes) {
    record_.bytes_out += bytes.size();
    Metrics::add(metrics_.bytes_out, bytes.size());
    return conn_->write(bytes);
  }

  // An error answer (or, once a response head went out, an abort), one log line, the close.
  void fail(int status, const std::string& why) {
    if (closing_) return;
    if (response_started_) return abort_client();
    reactor::log::info(record_.client + (record_.method.empty() ? "" : " " + record_.method) +
                       (record_.target.empty() ? "" : " " + record_.target) + ": " +
                       std::to_string(status) + " " + why);
    drop_upstream();
    in_request_ = true;  // a malformed head still makes an access-log line
    status_ = status;
    write_client(error_response(status, why));
    finish_request(status);
    close_now();
    parser_.pause();
  }

  void start_tunnel(std::string_view early) {
    const ConnectCheck check = check_connect(options_->allow_connect, record_.target);
    if (check.refusal != 0) return fail(check.refusal, check.why);
    record_.upstream = "tcp://" + check.target;
    in_request_ = false;  // the tunnel counts and logs the request when it ends
    tunnel_ = std::make_shared<Tunnel>(*conn_, tunnel_setup(Metrics::TunnelKind::connect), early);
    connect_tunnel(tunnel_, *conn_, *check.destination, options_->connect_timeout, metrics_);
  }

  void drop_upstream() {
    if (link_ != nullptr) std::exchange(link_, nullptr)->detach();
    connecting_ = false;
  }

  void close_now() {
    if (closing_ || conn_ == nullptr) return;
    closing_ = true;
    arm(Wait::none, Ms(0));
    conn_->close();
  }

  void abort_client() {
    closing_ = true;
    drop_upstream();
    finish_request(status_);
    arm(Wait::none, Ms(0));
    conn_->abort();
  }

  std::shared_ptr<const ProxyOptions> options_;
  std::shared_ptr<const Upstreams> upstreams_;
  Metrics& metrics_;
  AccessLog* access_log_;
  http::HttpParser parser_;
  reactor::Connection* conn_ = nullptr;
  LoopUpstreams* pool_ = nullptr;
  std::optional<reactor::WheelTimer> timer_;  // the deadline of wait_, on the loop's wheel
  std::shared_ptr<Tunnel> tunnel_;
  UpstreamLink* link_ = nullptr;

  // Per connection, reused by every request.
  std::string client_ip_;
  std::string pending_, feeding_;         // unparsed client bytes (two, to swap while feeding)
  std::string up_out_, out_;              // heads and chunk framing being written
  std::string trailers_, resp_trailers_;  // of the request, of the response
  HeaderList req_headers_;
  AccessRecord record_;

  // The request in flight.
  http::Framing req_framing_{};
  UpstreamRoute route_;
  // The access log's timings want better than the loop's millisecond clock, which serves the
  // timeouts: four clock reads per request, none without an access log.
  using Clock = RequestClock;
  Clock::time_point started_{}, upstream_started_{};
  std::uint64_t last_read_ = 0;
  int status_ = 0;
  BodyFraming resp_body_ = BodyFraming::none;
  Wait wait_ = Wait::none;
  std::uint64_t deadline_ = 0;   // loop time at which wait_ ends
  std::uint64_t timer_due_ = 0;  // loop time the deadline is armed for; 0: not armed
  bool in_request_ = false;      // from the request's first byte to the end of its response
  bool head_done_ = false;
  bool request_done_ = false;  // the whole request went to the upstream
  bool response_started_ = false;
  bool connect_ = false;
  bool websocket_ = false;  // a WebSocket request: its Upgrade goes to the upstream
  bool http10_ = false;
  bool keep_alive_ = true;  // the client lets the connection carry another request
  bool resp_keep_alive_ = true;
  bool req_chunked_ = false;
  bool expect_continue_ = false;
  bool connecting_ = false;
  bool link_reused_ = false;
  bool up_blocked_ = false;    // the upstream's write queue is full: the request body waits
  bool down_blocked_ = false;  // the client's write queue is full: the upstream waits
  bool reading_paused_ = false;
  bool close_after_ = false;  // close once the current response is out
  bool closing_ = false;
  bool draining_ = false;
  bool peer_closed_ = false;  // the client sent its FIN
};

}  // namespace

reactor::HandlerFactory reverse_proxy_factory(std::shared_ptr<const ProxyOptions> options,
                                              const Http2Settings& http2, Metrics& metrics,
                                              AccessLog* access_log) {
  if (options->upstream_insecure)
    reactor::log::warn(
        "--upstream-insecure: https upstreams are NOT verified; anyone on the path can "
        "impersonate them");
  auto upstreams = std::make_shared<const Upstreams>(options, metrics);
  http::VersionChoice choice;
  if (http2.enabled) {
    http::Http2Limits limits = http2.limits;
    limits.extended_connect = true;  // WebSockets over HTTP/2 (RFC 8441)
    choice.http2 = proxy_http2_factory(options, upstreams, metrics, access_log, limits);
  }
  // Over TLS, ALPN decides; plain listeners take the HTTP/2 preface as prior knowledge.
  choice.prior_knowledge = !options->tls;
  choice.http1 = [options = std::move(options), upstreams = std::move(upstreams), &metrics,
                  access_log] {
    return std::make_unique<ClientHandler>(options, upstreams, metrics, access_log);
  };
  return counted_clients(metrics, http::select_http_version(std::move(choice)));
}

}  // namespace apps::proxy
