#include "apps/proxy/ProxyExchange.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "apps/http/Base64.hpp"
#include "apps/http/Chunked.hpp"
#include "apps/http/Fields.hpp"
#include "apps/http/WebSocketHandshake.hpp"
#include "apps/proxy/ClientRecord.hpp"
#include "apps/proxy/ConnectProxy.hpp"
#include "apps/proxy/HeaderRewrite.hpp"
#include "apps/proxy/RequestId.hpp"
#include "apps/proxy/RouteTable.hpp"
#include "apps/proxy/UpstreamRoute.hpp"
#include "apps/proxy/Upstreams.hpp"
#include "reactor/Log.hpp"
#include "reactor/Loop.hpp"
#include "reactor/WheelTimer.hpp"

namespace apps::proxy {
namespace {

using Ms = std::chrono::milliseconds;

// A Sec-WebSocket-Key for the upstream's handshake (RFC 6455 4.1: 16 random bytes, base64).
std::string websocket_key() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::array<std::byte, 16> nonce{};
  for (auto& b : nonce) b = static_cast<std::byte>(random());
  return http::base64_encode(nonce);
}

// An HTTP/1.1 request head's size as parsed: its start line, Host and fields each as
// "name: value" with CRLF, and the blank line. The access log's bytes_in starts from it (a head
// sent with extra whitespace counts without it).
std::uint64_t head_size(const http::RequestHead& head) {
  std::uint64_t size = head.method.size() + head.target.size() + head.protocol.size() + 4 + 2;
  if (!head.authority.empty() && head.method != "CONNECT") size += 6 + head.authority.size() + 2;
  for (const http::Field& f : head.fields) size += f.name.size() + 2 + f.value.size() + 2;
  return size;
}

std::vector<http::Field> views(const HeaderList& list) {
  std::vector<http::Field> out;
  out.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) out.push_back({list.name(i), list.value(i)});
  return out;
}

// The client side of an HTTP/1.1 connection that became a Tunnel: its handler from the hand-over
// on (Response::switch_protocols), forwarding the connection's events.
class TunnelClient final : public reactor::Handler {
 public:
  explicit TunnelClient(std::shared_ptr<Tunnel> tunnel) : tunnel_(std::move(tunnel)) {}
  // A drain the driver took before the hand-over would be lost to the relay: ask again.
  void on_open(reactor::Connection&) override { tunnel_->drain(Tunnel::Side::client); }
  void on_data(reactor::Connection&, std::span<const std::byte> data) override {
    tunnel_->data(Tunnel::Side::client, data);
  }
  void on_drain(reactor::Connection&) override { tunnel_->drain(Tunnel::Side::client); }
  void on_peer_closed(reactor::Connection&) override { tunnel_->peer_closed(Tunnel::Side::client); }
  // A drain does not end a tunnel: it ends when either side does (its idle timeout bounds it).
  void on_server_stopping(reactor::Connection&) override {}
  void on_close(reactor::Connection&, const reactor::Error&) override {
    tunnel_->closed(Tunnel::Side::client);
  }

 private:
  std::shared_ptr<Tunnel> tunnel_;
};

std::unique_ptr<reactor::Handler> tunnel_client(std::shared_ptr<Tunnel> tunnel) {
  return std::make_unique<TunnelClient>(std::move(tunnel));
}

class ProxyExchange final : public http::Exchange, private UpstreamUser {
 public:
  // A stream waiting for its upstream makes no traffic on the client's connection: that is
  // not idle while an exchange is open, and idle (--idle-timeout) again once none is.
  explicit ProxyExchange(ClientSide& client) : client_(client), served_(client.served) {
    if (client_.exchanges++ == 0) set_idle_timeout(Ms(0));
  }
  ~ProxyExchange() override {
    // on_closed did this, unless the driver went without its on_close: no link nor relay may
    // call back into a destroyed exchange either way.
    drop_upstream();
    if (relay_) relay_->exchange = nullptr;
    // A connection handed to a tunnel has the tunnel's idle timeout (Tunnel::join sets it).
    if (--client_.exchanges == 0 && phase_ != Phase::handed_over)
      set_idle_timeout(client_.options->idle_timeout);
  }
  ProxyExchange(const ProxyExchange&) = delete;
  ProxyExchange& operator=(const ProxyExchange&) = delete;

  void on_request(const http::RequestHead& head, http::Response& response) override {
    response_ = &response;
    started_ = RequestClock::now();
    record_ = client_.record;
    record_.protocol = head.protocol;
    record_.stream = head.stream;
    record_.method = head.method;
    record_.target = head.target;
    method_ = head.method;
    target_ = head.target;
    // Only the access log reads it (the bytes_in counter is the connection's).
    if (head.stream == 0 && client_.access_log != nullptr) record_.bytes_in = head_size(head);
    read_head(head);
    identify(head);
    if (head.method == "CONNECT" && head.connect_protocol.empty()) return start_connect(head);
    if (head.stream == 0 &&
        is_websocket_upgrade(head.method, head.protocol == "HTTP/1.0", headers_, head.has_body)) {
      // HTTP/1.1's own Upgrade goes on as the client sent it; its 101 hands the connection over.
      tunnel_ = Tunnelled::upgrade;
    }
    if (head.method == "CONNECT") {
      // RFC 8441: a WebSocket over this stream becomes an HTTP/1.1 Upgrade upstream.
      if (head.connect_protocol != "websocket")
        return fail(501, "extended CONNECT is only relayed for websocket");
      tunnel_ = Tunnelled::websocket;
      method_ = "GET";
      ws_key_ = websocket_key();
      headers_.add("Sec-WebSocket-Key", ws_key_);
      // The stream's DATA is the tunnel's, from the switch on: held back until then.
      response.pause_body();
    } else if (head.has_body) {
      if (!head.content_length) {
        body_ = BodyFraming::chunked;
      } else {
        body_ = BodyFraming::length;
        content_length_ = *head.content_length;
      }
      // Nowhere to send it yet: what is in flight waits in early_, the rest in the client.
      response.pause_body();
      last_read_ = now();
      arm_body_timer(options().body_timeout);
    } else {
      request_done_ = true;
    }
    if (!take_route(head)) return;
    go(route_.first(pool(), now()));
  }

  void on_body(std::span<const std::byte> bytes) override {
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    record_.bytes_in += text.size();
    last_read_ = now();
    if (phase_ == Phase::finished) return;  // answered already: the rest is dropped
    if (tunnel_ != Tunnelled::no) return tunnel_up(text);
    if (body_ != BodyFraming::chunked) return send_up(text);
    chunk_.clear();
    http::append_chunk(chunk_, text);
    send_up(chunk_);
  }

  void on_body_end(std::span<const http::Field> trailers) override {
    if (request_done_) return;
    request_done_ = true;
    // The client's half of a tunnel ended: the upstream's half-close follows.
    if (tunnelling() && relay_->upstream != nullptr) return relay_->upstream->shutdown();
    if (body_timer_) body_timer_->stop();
    if (phase_ == Phase::finished || body_ != BodyFraming::chunked) return;
    std::string fields;
    for (const http::Field& f : trailers)
      fields.append(f.name).append(": ").append(f.value).append("\r\n");
    chunk_.clear();
    http::append_last_chunk(chunk_, fields);
    send_up(chunk_);
  }

  void on_writable() override {
    if (!down_blocked_) return;
    if (link_ != nullptr) {
      down_blocked_ = false;
      link_->resume_reading();
    } else if (relay_ && relay_->upstream != nullptr) {
      down_blocked_ = false;
      relay_->upstream->resume_reading();
    }
  }

  void on_closed(bool) override {
    if (phase_ == Phase::handed_over) return;  // the tunnel counts and logs the request
    drop_upstream();
    if (relay_) {
      relay_->exchange = nullptr;
      if (relay_->upstream != nullptr) relay_->upstream->close();
      if (relay_->counted) client_.metrics->tunnel_closed();
    }
    body_timer_.reset();
    if (phase_ != Phase::finished) move_to(Phase::finished);
    finish_request(*client_.metrics, client_.access_log, record_, head_sent_ ? status_ : 0,
                   started_);
  }

 private:
  // Moves only in move_to(). routing -> connecting -> exchanging -> (response head out)
  // responding -> finished; any phase -> finished on an answer, an abort or the close.
  // A WebSocket (RFC 8441) goes exchanging -> tunnelling once the upstream switched; a plain
  // CONNECT goes connecting -> tunnelling once the destination opened, then -> upstream_done
  // when the destination's FIN went out as END_STREAM while the client still sends.
  // Over HTTP/1.1 a tunnel takes the whole connection instead: a CONNECT goes routing ->
  // handed_over at once (the Tunnel connects and answers), an Upgrade exchanging -> handed_over
  // at the upstream's 101; the exchange is then done and the Tunnel has the request's record.
  enum class Phase {
    routing,
    connecting,
    exchanging,
    responding,
    tunnelling,
    upstream_done,
    handed_over,
    finished
  };
  // What the exchange is: a request, or a tunnel (RFC 8441 WebSocket over an HTTP/2 stream,
  // HTTP/1.1's WebSocket Upgrade, a CONNECT over either).
  enum class Tunnelled { no, websocket, upgrade, connect };

  // The upstream connection of a tunnel: its callbacks, for the exchange while it lives.
  // Shared by the exchange and the UpstreamLink it was handed over from, or by the exchange
  // and a CONNECT's destination handler from the connect on.
  struct Relay final : ConnectRelay {
    ProxyExchange* exchange = nullptr;  // null once the exchange is gone
    reactor::Connection* upstream = nullptr;
    bool counted = false;  // in tunnels_active (its 200 went out)

    void connected(reactor::Connection& destination) override {
      if (exchange == nullptr) return destination.close();  // the stream went meanwhile
      exchange->connect_opened(destination);
    }
    void connect_failed(const std::string& why) override {
      if (exchange != nullptr) exchange->fail(502, why);
    }

    void upstream_data(std::span<const std::byte> bytes) override {
      if (exchange != nullptr) exchange->tunnel_down(bytes);
    }
    void upstream_drain() override {
      if (exchange != nullptr) exchange->tunnel_drained();
    }
    void upstream_peer_closed() override {
      if (exchange != nullptr) return exchange->tunnel_ended();
      if (upstream != nullptr) upstream->close();
    }
    void upstream_closed() override {
      upstream = nullptr;
      if (exchange != nullptr) exchange->tunnel_ended();
    }
  };

  void move_to(Phase next) { phase_ = next; }
  void set_idle_timeout(Ms timeout) {
    if (client_.conn != nullptr && !client_.conn->is_closing())
      client_.conn->set_idle_timeout(timeout);
  }
  std::uint64_t now() const { return client_.conn->loop().now(); }

  // The upstream's part is over (its response ended, or a tunnel's upstream is there): its time
  // for the access log and the upstream_seconds histogram, from one clock read.
  void upstream_done() {
    const RequestClock::duration elapsed = RequestClock::now() - upstream_started_;
    client_.metrics->upstream_seconds.observe(elapsed);
    record_.upstream_ms = milliseconds(elapsed);
  }

  bool tunnelling() const { return phase_ == Phase::tunnelling || phase_ == Phase::upstream_done; }

  // A plain CONNECT (RFC 9113 8.5): the same policy as HTTP/1.1's CONNECT (check_connect), then
  // a TCP connection to the authority; the stream's DATA waits for it.
  void start_connect(const http::RequestHead& head) {
    target_ = record_.target = head.authority;
    const ConnectCheck check = check_connect(options().allow_connect, head.authority);
    if (check.refusal != 0) return fail(check.refusal, check.why);
    record_.upstream = "tcp://" + check.target;
    tunnel_ = Tunnelled::connect;
    if (head.stream == 0) return hand_over_connect(*check.destination);
    response_->pause_body();
    move_to(Phase::connecting);
    relay_ = std::make_shared<Relay>();
    relay_->exchange = this;
    upstream_started_ = RequestClock::now();
    connect_destination(client_.conn->loop(), *check.destination, options().connect_timeout,
                        *client_.metrics, relay_);
  }

  // HTTP/1.1: the connection becomes the tunnel now; the Tunnel keeps what the client sends
  // meanwhile and answers "200 Connection Established" or 502 itself (connect_tunnel).
  void hand_over_connect(const reactor::HostPort& destination) {
    const std::shared_ptr<Tunnel> tunnel = hand_over(Metrics::TunnelKind::connect);
    if (!response_->switch_protocols({}, tunnel_client(tunnel)))
      return tunnel->refuse(500, error_response(500, "the connection cannot become a tunnel"));
    connect_tunnel(tunnel, *client_.conn, destination, options().connect_timeout, *client_.metrics);
  }

  // The Tunnel an HTTP/1.1 connection becomes, with this request's record to finish.
  std::shared_ptr<Tunnel> hand_over(Metrics::TunnelKind kind) {
    move_to(Phase::handed_over);
    Tunnel::Setup setup;
    setup.kind = kind;
    setup.idle_timeout = options().tunnel_idle_timeout;
    setup.metrics = client_.metrics;
    setup.access_log = client_.access_log;
    setup.record = record_;
    setup.started = started_;
    return std::make_shared<Tunnel>(*client_.conn, std::move(setup), std::string_view());
  }

  void connect_opened(reactor::Connection& destination) {
    if (phase_ != Phase::connecting) return destination.close();
    upstream_done();
    relay_->upstream = &destination;
    begin_tunnel(Metrics::TunnelKind::connect, {});
  }

  // The request's fields for the upstream's head: Host from the authority when no Host came,
  // HTTP/2's cookie fields joined as one (RFC 9113 8.2.3), Expect noted.
  void read_head(const http::RequestHead& head) {
    headers_.clear();
    const bool has_host =
        std::any_of(head.fields.begin(), head.fields.end(),
                    [](const http::Field& f) { return http::equals_nocase(f.name, "host"); });
    // First, where a client puts it (HTTP/1.1's drivers take Host out of the fields).
    if (!has_host && !head.authority.empty()) headers_.add("Host", head.authority);
    std::string cookies;
    for (const http::Field& f : head.fields) {
      if (http::equals_nocase(f.name, "expect") && http::lists_token(f.value, "100-continue"))
        expect_continue_ = true;
      if (head.stream != 0 && http::equals_nocase(f.name, "cookie")) {
        cookies.append(cookies.empty() ? "" : "; ").append(f.value);
        continue;
      }
      headers_.add(f.name, f.value);
    }
    if (!cookies.empty()) headers_.add("cookie", cookies);
  }

  // The request's id and trace context, for the upstream, the response and the access log:
  // the client's X-Request-Id when it is trusted (one acceptable value), else a new one; its
  // traceparent (and tracestate) passed on when it is one well-formed value, else dropped.
  void identify(const http::RequestHead& head) {
    std::string_view given;
    if (client_.access_log != nullptr) {  // only the log reads them
      record_.host = head.authority;
      if (headers_.find("user-agent", given)) record_.user_agent = given;
    }
    record_.request_id.clear();
    if (client_.request_id_trusted && headers_.has(FieldName::x_request_id) &&
        only(FieldName::x_request_id, given) && acceptable_request_id(given))
      record_.request_id = given;
    if (record_.request_id.empty()) record_.request_id = client_.request_ids->next();
    record_.traceparent.clear();
    if (!headers_.has(FieldName::traceparent)) return;
    if (only(FieldName::traceparent, given) && valid_traceparent(given)) {
      record_.traceparent = given;
    } else {
      headers_.remove("traceparent");
      headers_.remove("tracestate");
    }
  }

  // Whether exactly one field of the request is `kind` (its value then in `value`).
  bool only(FieldName kind, std::string_view& value) const {
    std::size_t count = 0;
    for (std::size_t i = 0; i < headers_.size(); ++i) {
      if (headers_.kind(i) != kind) continue;
      value = headers_.value(i);
      ++count;
    }
    return count == 1;
  }

  // The request's route, when routes are configured: a redirect or a fixed status is answered
  // here (false: the exchange may be gone); a proxy route narrows the upstreams to its group,
  // rewrites the target's prefix and applies its request header rules.
  bool take_route(const http::RequestHead& head) {
    const RouteTable* table = options().routes.get();
    if (table == nullptr) {
      route_.begin();
      return true;
    }
    if (!is_normal_target(head.target)) {
      answer(400, "the path is not in normal form (dot segments, '//' or needless %-encoding)\n",
             {});
      return false;
    }
    rule_ = table->find(head.authority, method_, head.target);
    if (rule_ == nullptr) {
      answer(404, "no route for this host and path\n", {});
      return false;
    }
    if (rule_->action == Route::Action::redirect) {
      const std::string location = expand_location(*rule_, head.authority, head.target);
      answer(rule_->status, "", location);
      return false;
    }
    if (rule_->action == Route::Action::answer) {
      answer(rule_->status, rule_->body, {});
      return false;
    }
    if (rule_->rewrite_prefix) rewrite_target(*rule_, head.target, target_);
    if (!rule_->request_headers.empty()) apply_header_rules(rule_->request_headers, headers_);
    const RouteGroup& group = table->groups()[rule_->group];
    route_.begin(group.mask, rule_->group + 1, group.retries, group.retry_budget);
    if (group.ring) {
      std::string_view key = client_.client_ip;
      if (std::string_view value;
          !group.hash_header.empty() && headers_.find(group.hash_header, value))
        key = value;
      route_.hash_by(group.ring.get(), HashRing::hash(key));
    }
    return true;
  }

  // Takes the route's next step: an upstream connection (pooled or new), or the answer.
  void go(const UpstreamRoute::Next& next) {
    using Step = UpstreamRoute::Next::Step;
    if (next.step == Step::answer) return fail(next.status, next.why);
    record_.upstream = options().upstreams[next.index].text;
    if (next.step == Step::pooled)
      if (UpstreamLink* pooled = pool().take_idle(next.index, *this))
        return start_exchange(*pooled);
    move_to(Phase::connecting);
    reused_ = false;
    link_ = pool().connect(client_.conn->loop(), next.index, *this);
  }

  void start_exchange(UpstreamLink& link) {
    link_ = &link;
    reused_ = link.reused();
    move_to(Phase::exchanging);
    const bool websocket = tunnel_ == Tunnelled::websocket || tunnel_ == Tunnelled::upgrade;
    link.begin_exchange(method_, websocket);
    RequestFacts facts;
    facts.method = method_;
    facts.target = target_;
    facts.client_ip = client_.client_ip;
    facts.client_tls = options().tls;
    facts.upstream_host = options().upstreams[link.index()].authority;
    facts.body = body_;
    facts.content_length = content_length_;
    facts.websocket = websocket;
    facts.request_id = record_.request_id;
    facts.client_cert = client_.client_cert;
    facts.client_cert_chain = client_.client_cert_chain;
    std::string out;
    write_request_head(out, facts, headers_);
    out.append(std::exchange(early_, {}));
    upstream_started_ = RequestClock::now();
    if (!link.write(out)) up_blocked_ = true;
    if (request_done_ || websocket) return;
    if (expect_continue_) response_->informational(100);
    if (!up_blocked_) response_->resume_body();
  }

  // Request bytes (framed) for the upstream: written once the exchange has a connection,
  // kept in early_ until then (at most what was in flight when the body was paused).
  void send_up(std::string_view bytes) {
    if (phase_ != Phase::exchanging && phase_ != Phase::responding) {
      early_.append(bytes);
      return;
    }
    if (!link_->write(bytes) && !up_blocked_) {
      up_blocked_ = true;
      if (!request_done_) response_->pause_body();
    }
  }

  // UpstreamUser
  void on_upstream_ready(UpstreamLink& link) override { start_exchange(link); }

  void on_upstream_failed(const reactor::Error& error, Metrics::UpstreamError) override {
    link_ = nullptr;
    go(route_.connect_failed(pool(), now(), error));
  }

  void on_upstream_drain() override {
    if (!up_blocked_) return;
    up_blocked_ = false;
    if (!request_done_) response_->resume_body();
  }

  void on_response_head(int status, std::string_view reason, const HeaderList& headers,
                        const http::Framing& framing) override {
    status_ = status;
    resp_keep_alive_ = framing.keep_alive;
    resp_has_body_ = framing.has_body;
    if (status == 101 && tunnel_ == Tunnelled::upgrade) {
      // The client checks Sec-WebSocket-Accept against its own key: the head goes on as it came
      // but for the hop-by-hop rules (on_upstream_switched sends it).
      ResponseFacts facts;
      facts.status = status;
      facts.reason = reason;
      facts.switching = true;
      switch_head_.clear();
      write_response_head(switch_head_, facts, headers);
      return;
    }
    if (status == 101) {
      // The switch (on_upstream_switched comes next): only the WebSocket's own answers go on;
      // Sec-WebSocket-Accept belongs to this hop's handshake, and is checked here.
      std::string_view accept;
      accepted_ =
          headers.find("sec-websocket-accept", accept) && accept == http::websocket_accept(ws_key_);
      resp_fields_.clear();
      for (const char* name : {"sec-websocket-protocol", "sec-websocket-extensions"})
        if (std::string_view value; headers.find(name, value)) resp_fields_.add(name, value);
      return;
    }
    // A 2xx would tell an RFC 8441 client its tunnel is open.
    if (tunnel_ == Tunnelled::websocket && status / 100 == 2)
      return fail(502, "upstream answered " + std::to_string(status) + " to a WebSocket upgrade");
    response_fields(headers, resp_fields_);
    if (rule_ != nullptr) apply_header_rules(rule_->response_headers, resp_fields_);
    // The client hears the id the upstream was sent, whatever the upstream says.
    if (resp_fields_.has(FieldName::x_request_id)) resp_fields_.remove("x-request-id");
    resp_fields_.add("X-Request-Id", record_.request_id);
    // An answer before the whole request (an early error) is the HTTP/1.1 connection's last: the
    // rest of the body is not worth reading to keep it (HTTP/2's driver drops the field).
    if (!request_done_) resp_fields_.add("Connection", "close");
    resp_trailers_.clear();
    resp_length_ = framing.chunked ? std::nullopt : framing.content_length;
    // A bodiless answer ends the stream with its head, which may close the exchange at once:
    // it goes out last, from on_response_complete.
    if (!framing.has_body) return;
    std::optional<std::uint64_t> length;
    if (framing.content_length && !framing.chunked) length = framing.content_length;
    move_to(Phase::responding);
    head_sent_ = true;
    const auto fields = views(resp_fields_);
    response_->head(status, fields, length, true);
  }

  void on_response_body(std::string_view bytes) override {
    record_.bytes_out += bytes.size();
    if (!response_->body(std::as_bytes(std::span(bytes.data(), bytes.size()))) &&
        link_ != nullptr && !down_blocked_) {
      down_blocked_ = true;
      link_->pause_reading();
    }
  }

  void on_response_trailer(std::string_view name, std::string_view value) override {
    resp_trailers_.add(name, value);
  }

  void on_upstream_input_done() override {}

  void on_response_complete() override {
    upstream_done();
    UpstreamLink* link = std::exchange(link_, nullptr);
    down_blocked_ = false;
    // An upstream that answered before the whole request came leaves its connection unusable.
    link->release(resp_keep_alive_ && request_done_ && !up_blocked_);
    up_blocked_ = false;
    move_to(Phase::finished);
    // The rest of a request body the upstream did not wait for is taken and dropped.
    if (!request_done_) response_->resume_body();
    // Each of these may end the stream and with it this exchange: the last thing done here.
    if (!resp_has_body_) {
      head_sent_ = true;
      const auto fields = views(resp_fields_);
      // A HEAD's or 304's Content-Length says what the body would be: the driver writes it.
      return response_->head(status_, fields, resp_length_, resp_length_.value_or(0) > 0);
    }
    const auto trailers = views(resp_trailers_);
    response_->end(trailers);
  }

  // The upstream took the WebSocket: the stream answers 200 and its DATA and the upstream
  // connection become one tunnel, with what either side sent early.
  void on_upstream_switched(UpstreamLink& link, std::string_view rest) override {
    link_ = nullptr;
    if (tunnel_ == Tunnelled::upgrade) {
      // HTTP/1.1: the 101 goes out and the two connections become one Tunnel.
      upstream_done();
      record_.bytes_out += switch_head_.size();
      const std::shared_ptr<Tunnel> tunnel = hand_over(Metrics::TunnelKind::websocket);
      reactor::Connection& upstream = link.hand_over(tunnel);
      if (!response_->switch_protocols(switch_head_, tunnel_client(tunnel))) {
        response_->abort();
        return upstream.close();
      }
      return tunnel->join(upstream, 101, {}, rest);
    }
    if (!accepted_) return fail(502, "upstream switched without the right Sec-WebSocket-Accept");
    upstream_done();
    relay_ = std::make_shared<Relay>();
    relay_->exchange = this;
    relay_->upstream = &link.hand_over(relay_);
    begin_tunnel(Metrics::TunnelKind::websocket, rest);
  }

  // The tunnel's upstream connection is there: 200 on the stream, then what either side sent
  // early, and the relay (an END_STREAM that came meanwhile becomes the upstream's half-close).
  void begin_tunnel(Metrics::TunnelKind kind, std::string_view rest) {
    relay_->upstream->set_idle_timeout(options().tunnel_idle_timeout);
    relay_->counted = true;
    client_.metrics->tunnel_opened(kind);
    move_to(Phase::tunnelling);
    status_ = 200;
    head_sent_ = true;
    const auto fields = views(resp_fields_);
    response_->head(200, fields, std::nullopt, true);
    if (!rest.empty()) tunnel_down(std::as_bytes(std::span(rest.data(), rest.size())));
    if (!early_.empty()) tunnel_up(std::exchange(early_, {}));
    if (request_done_) return relay_->upstream->shutdown();
    if (!up_blocked_) response_->resume_body();
  }

  // Client bytes for the tunnel's upstream (kept until it is there).
  void tunnel_up(std::string_view bytes) {
    if (!tunnelling()) {
      early_.append(bytes);
      return;
    }
    if (relay_->upstream == nullptr) return;
    if (!relay_->upstream->write(bytes) && !up_blocked_) {
      up_blocked_ = true;
      response_->pause_body();
    }
  }

  // Upstream bytes for the tunnel's client.
  void tunnel_down(std::span<const std::byte> bytes) {
    record_.bytes_out += bytes.size();
    if (!response_->body(bytes) && !down_blocked_ && relay_->upstream != nullptr) {
      down_blocked_ = true;
      relay_->upstream->pause_reading();
    }
  }

  void tunnel_drained() {
    if (!up_blocked_) return;
    up_blocked_ = false;
    if (!request_done_) response_->resume_body();
  }

  // The upstream finished (its FIN: the stream ends too) or went away (its close without one:
  // the stream is reset). A CONNECT's client may go on sending after the FIN (half-close, RFC
  // 9113 8.5), so its destination stays open until the stream closes. Last call: either may
  // end the exchange.
  void tunnel_ended() {
    if (!tunnelling()) return;
    if (relay_->upstream == nullptr) {
      move_to(Phase::finished);
      return response_->abort();
    }
    if (phase_ == Phase::upstream_done) return;
    if (tunnel_ == Tunnelled::connect && !request_done_) {
      move_to(Phase::upstream_done);
      return response_->end();
    }
    move_to(Phase::finished);
    relay_->upstream->close();
    response_->end();
  }

  void on_upstream_lost(const reactor::Error& error, Metrics::UpstreamError kind,
                        bool response_begun) override {
    link_ = nullptr;
    down_blocked_ = up_blocked_ = false;
    if (head_sent_) {
      reactor::log::info(record_.client + " " + method_ + " " + target_ + " (stream " +
                         std::to_string(record_.stream) + "): upstream broke off the response (" +
                         error.message() + "), aborting it");
      move_to(Phase::finished);
      return response_->abort();
    }
    go(route_.lost(pool(), now(), error, kind, reused_, response_begun,
                   body_ != BodyFraming::none));
  }

  void arm_body_timer(Ms delay) {
    if (options().body_timeout.count() == 0) return;
    if (!body_timer_) body_timer_.emplace(client_.conn->loop(), [this] { on_body_timer(); });
    body_timer_->start(delay);
  }

  // Reads do not restart the timer: the deadline is checked against the last read when it
  // fires, and is no one's while the proxy itself holds the body back.
  void on_body_timer() {
    if (request_done_ || phase_ == Phase::finished) return;
    const auto limit = options().body_timeout;
    if (up_blocked_ || phase_ == Phase::connecting || phase_ == Phase::routing)
      return arm_body_timer(limit);
    const auto quiet = now() - last_read_;
    if (quiet < static_cast<std::uint64_t>(limit.count()))
      return arm_body_timer(Ms(static_cast<std::uint64_t>(limit.count()) - quiet));
    fail(408, "request body stalled for " + seconds_text(limit));
  }

  // An error answer (or, once a head went out, an abort) and one log line. Last call of
  // whatever calls it: the answer may end the exchange.
  void fail(int status, const std::string& why) {
    if (phase_ == Phase::finished) return;
    drop_upstream();
    move_to(Phase::finished);
    if (head_sent_) return response_->abort();
    reactor::log::info(record_.client + " " + method_ + " " + target_ + " (stream " +
                       std::to_string(record_.stream) + "): " + std::to_string(status) + " " + why);
    answer(status, why + "\n", {});
  }

  // A complete text/plain answer made here, with a Location when one is given. Last call: the
  // answer may end the exchange.
  void answer(int status, std::string_view text, std::string_view location) {
    move_to(Phase::finished);
    status_ = status;
    head_sent_ = true;
    record_.bytes_out += text.size();
    std::array<http::Field, 4> fields{http::Field{"Content-Type", "text/plain"}};
    std::size_t count = 1;
    if (!record_.request_id.empty())
      fields[count++] = http::Field{"X-Request-Id", record_.request_id};
    if (!location.empty()) fields[count++] = http::Field{"Location", location};
    // With the request body still coming, the HTTP/1.1 connection ends with this answer (a
    // stalled or unwanted body is not read on); HTTP/2's driver drops the Connection field.
    if (!request_done_) fields[count++] = http::Field{"Connection", "close"};
    response_->head(status, std::span(fields.data(), count), text.size(), true);
    response_->body(std::as_bytes(std::span(text.data(), text.size())));
    if (!request_done_) response_->resume_body();
    response_->end();
  }

  void drop_upstream() {
    if (link_ != nullptr) std::exchange(link_, nullptr)->detach();
    up_blocked_ = down_blocked_ = false;
  }

  const ProxyOptions& options() const { return *served_->config->options; }
  LoopUpstreams& pool() const { return *served_->pool; }

  ClientSide& client_;
  // The configuration this request is served with, start to end, whatever a reload publishes
  // meanwhile (its route, upstream indices and pools belong together).
  std::shared_ptr<const ServedConfig> served_;
  http::Response* response_ = nullptr;
  UpstreamLink* link_ = nullptr;
  UpstreamRoute route_;
  const Route* rule_ = nullptr;  // the request's route, when routes are configured
  std::optional<reactor::WheelTimer> body_timer_;  // a deadline on the loop's wheel, no handle
  AccessRecord record_;
  HeaderList headers_;        // the request's, for the upstream's head
  HeaderList resp_fields_;    // the response's, for the client
  HeaderList resp_trailers_;  // the response's trailers
  std::string method_, target_;
  std::string early_;  // request bytes (framed) waiting for the upstream connection
  std::string chunk_;  // a chunk being framed
  RequestClock::time_point started_{}, upstream_started_{};
  std::uint64_t last_read_ = 0;
  std::uint64_t content_length_ = 0;
  BodyFraming body_ = BodyFraming::none;
  Phase phase_ = Phase::routing;
  int status_ = 0;
  bool request_done_ = false;  // the client's body ended (or there was none)
  bool expect_continue_ = false;
  bool reused_ = false;  // the link came from the pool
  bool head_sent_ = false;
  bool resp_has_body_ = false;
  std::optional<std::uint64_t> resp_length_;  // the response's Content-Length, unless chunked
  bool resp_keep_alive_ = true;
  Tunnelled tunnel_ = Tunnelled::no;
  bool accepted_ = false;         // the upstream's 101 carried the right Sec-WebSocket-Accept
  std::string ws_key_;            // the Sec-WebSocket-Key sent upstream
  std::string switch_head_;       // HTTP/1.1's 101 for the client, until the switch
  std::shared_ptr<Relay> relay_;  // once tunnelling
  bool up_blocked_ = false;       // the upstream's write queue is full: the request body waits
  bool down_blocked_ = false;     // the client's stream is full: the upstream's reading waits
};

}  // namespace

std::unique_ptr<http::Exchange> proxy_exchange(ClientSide& client) {
  if (client.live != nullptr)
    client.live->refresh(client.served, client.generation, client.conn->loop());
  return std::make_unique<ProxyExchange>(client);
}

}  // namespace apps::proxy
