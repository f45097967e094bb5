#include "apps/hello/HelloExchange.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "apps/hello/BodySource.hpp"
#include "apps/http/Date.hpp"
#include "apps/http/Http1Connection.hpp"
#include "apps/http/WebSocketHandshake.hpp"

namespace apps::hello {

namespace {

using http::Field;

constexpr std::string_view hello_body = "hello from tlsreactor\n";

// Decimal digits only (no sign, no spaces), as /bytes/N wants them; false on overflow.
bool parse_decimal(std::string_view digits, std::uint64_t& value) {
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return !digits.empty() && ec == std::errc() && end == digits.data() + digits.size();
}

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

// Request methods as bits, so that a route lists the ones it answers in one number.
enum Method : unsigned { get = 1, head = 2, post = 4, other = 8 };

Method method_of(std::string_view name) {
  if (name == "GET") return get;
  if (name == "HEAD") return head;
  if (name == "POST") return post;
  return other;
}

class HelloExchange;

// One row of the route table. A request whose path matches is looked at by `prepare` at its
// head (with the rest of the path after a prefix route's prefix, which is valid only then) and
// answered by `answer` when it is complete; a method not in `methods` gets 405 with `allow`.
struct Route {
  std::string_view path;
  bool prefix = false;
  unsigned methods = 0;
  std::string_view allow;
  void (HelloExchange::*prepare)(const http::RequestHead&, std::string_view rest) = nullptr;
  void (HelloExchange::*answer)() = nullptr;
  bool needs_root = false;  // only served when --root is set
};

// One request. What it does next is one of Phase, moved only by move_to().
class HelloExchange final : public http::Exchange {
 public:
  explicit HelloExchange(const HelloOptions& options) : options_(options) {}

  // One exchange per request: each loop thread keeps the memory of the last one destroyed for
  // the next, so a keep-alive request costs no malloc and free (bench/keepalive_ir.sh shows
  // what that saves). Only the allocation is reused, never an object.
  static void* operator new(std::size_t size) {
    if (void* block = std::exchange(spare().block, nullptr)) return block;
    return ::operator new(size);
  }
  static void operator delete(void* block) noexcept {
    Spare& s = spare();
    if (s.block == nullptr) {
      s.block = block;
    } else {
      ::operator delete(block);
    }
  }

  void on_request(const http::RequestHead& head, http::Response& response) override {
    response_ = &response;
    method_ = method_of(head.method);
    const std::string_view path = head.target.substr(0, head.target.find('?'));
    route_ = find_route(path);
    if (route_ != nullptr && (route_->methods & method_) != 0 && route_->prepare != nullptr)
      (this->*route_->prepare)(head, path.substr(route_->path.size()));
  }

  void on_body(std::span<const std::byte> bytes) override {
    // /echo: what comes in goes out; when the way out is full, the way in waits.
    if (phase_ == Phase::echo && !response_->body(bytes)) response_->pause_body();
  }

  void on_body_end(std::span<const Field>) override {
    if (phase_ == Phase::echo) {
      move_to(Phase::done);
      return response_->end();
    }
    if (phase_ == Phase::waiting) answer();
  }

  void on_writable() override {
    if (phase_ == Phase::echo) response_->resume_body();
    if (phase_ == Phase::streaming) pump();
  }

 private:
  enum class Phase {
    waiting,    // for the request to be complete, then answer()
    echo,       // POST /echo: the request body is the response body
    streaming,  // the response body comes from source_
    done,       // answered
  };
  static const std::array<Route, 5> routes;

  void move_to(Phase next) { phase_ = next; }

  struct Spare {
    void* block = nullptr;
    Spare() = default;
    Spare(const Spare&) = delete;
    Spare& operator=(const Spare&) = delete;
    ~Spare() { ::operator delete(block); }
  };
  static Spare& spare() {
    thread_local Spare instance;
    return instance;
  }

  const Route* find_route(std::string_view path) const {
    for (const Route& route : routes) {
      const bool match = route.prefix ? path.starts_with(route.path) : path == route.path;
      if (match && (!route.needs_root || !options_.root.empty())) return &route;
    }
    return nullptr;
  }

  void answer() {
    if (route_ == nullptr) return reply(404, "not found\n");
    if ((route_->methods & method_) == 0) {
      const Field allow{"Allow", route_->allow};
      return reply(405, "method not allowed\n", std::span(&allow, 1));
    }
    (this->*route_->answer)();
  }

  // ---- routes ------------------------------------------------------------------------------

  void greet() { reply(200, hello_body); }

  void prepare_bytes(const http::RequestHead&, std::string_view count) {
    if (!parse_decimal(count, length_) || length_ > max_pattern_bytes) return;
    source_ = pattern_body();
  }
  void bytes() {
    if (!source_) return reply(404, "not found\n");
    stream();
  }

  void prepare_file(const http::RequestHead&, std::string_view relative) {
    bad_name_ = !safe_relative_path(relative);
    if (bad_name_) return;
    FileBody body = open_under(options_.root, relative);
    source_ = std::move(body.source);
    length_ = body.size;
  }
  void file() {
    if (bad_name_) return reply(400, "bad file name\n");
    if (!source_) return reply(404, "not found\n");
    stream();
  }

  // At the head: the response's head goes now, its body as the request's arrives. A request
  // without a body gets an empty one.
  void prepare_echo(const http::RequestHead& head, std::string_view) {
    const std::optional<std::uint64_t> length =
        head.has_body ? head.content_length : std::optional<std::uint64_t>(0);
    response_->head(200, fields("application/octet-stream"), length);
    move_to(Phase::echo);
  }
  void echo() {}  // answered at the head

  // GET /ws: a WebSocket echo (docs/websocket.md). The handshake is read here, at the head,
  // and only for this route.
  void prepare_websocket(const http::RequestHead& head, std::string_view) {
    const bool http11 = head.protocol == "HTTP/1.1";
    handshake_.on_request_line(head.method, 1, http11 ? 1 : 0);
    if (!head.authority.empty()) handshake_.on_header("Host", head.authority);
    for (const Field& f : head.fields) handshake_.on_header(f.name, f.value);
  }
  void websocket() {
    if (!handshake_.wants_websocket()) {
      const Field extra[] = {
          {"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"}, {"Connection", "close"}};
      return reply(426, "GET /ws needs a WebSocket upgrade over HTTP/1.1\n", extra);
    }
    const auto verdict = handshake_.verdict();
    if (verdict.status == 101 &&
        response_->switch_protocols(verdict.head,
                                    std::make_unique<WebSocketEcho>(options_.websocket))) {
      return move_to(Phase::done);
    }
    const Field version{"Sec-WebSocket-Version", "13"};
    const Field extra[] = {version, {"Connection", "close"}};
    const std::string body = std::string(verdict.reason) + "\n";
    reply(verdict.status, body,
          verdict.status == 426 ? std::span<const Field>(extra) : std::span(extra).subspan(1));
  }

  // ---- responses ---------------------------------------------------------------------------

  // The fields every response has, with its Content-Type; `extra` after them. Valid until the
  // next call (one array per exchange: no allocation).
  std::span<const Field> fields(std::string_view type, std::span<const Field> extra = {}) {
    fields_[0] = {"Server", "tlsreactor"};
    fields_[1] = {"Date", http::http_date()};
    fields_[2] = {"Content-Type", type};
    const std::size_t n = std::min(extra.size(), fields_.size() - 3);
    std::copy_n(extra.begin(), n, fields_.begin() + 3);
    return std::span(fields_.data(), 3 + n);
  }

  // A small response whole: head, body, end.
  void reply(int status, std::string_view body, std::span<const Field> extra = {}) {
    move_to(Phase::done);
    response_->head(status, fields("text/plain", extra), body.size());
    response_->body(bytes_of(body));
    response_->end();
  }

  void stream() {
    response_->head(200, fields("application/octet-stream"), length_);
    if (method_ == head || length_ == 0) {
      move_to(Phase::done);
      return response_->end();
    }
    move_to(Phase::streaming);
    pump();
  }

  // Produces body chunks while the response takes them, until the body ends.
  void pump() {
    while (phase_ == Phase::streaming) {
      const auto chunk =
          source_->next(static_cast<std::size_t>(std::min<std::uint64_t>(length_, chunk_size)));
      if (chunk.empty()) {
        move_to(Phase::done);
        return response_->abort();  // the promised length cannot be kept
      }
      length_ -= chunk.size();
      const bool room = response_->body(chunk);
      if (length_ == 0) {
        move_to(Phase::done);
        source_.reset();
        return response_->end();
      }
      if (!room) return;  // on_writable goes on
    }
  }

  const HelloOptions& options_;
  http::Response* response_ = nullptr;
  Phase phase_ = Phase::waiting;
  Method method_ = get;
  const Route* route_ = nullptr;
  std::array<Field, 6> fields_;
  std::unique_ptr<BodySource> source_;  // /bytes, /files: the body
  std::uint64_t length_ = 0;            // what is left of it
  bool bad_name_ = false;               // /files: the path is refused
  http::WebSocketHandshake handshake_;  // /ws
};

// The hot route first: GET / is the benchmark's request. A new route is one more row and one
// or two more members.
const std::array<Route, 5> HelloExchange::routes{{
    {"/", false, get | head | post, "GET, HEAD, POST", nullptr, &HelloExchange::greet},
    {"/bytes/", true, get | head, "GET, HEAD", &HelloExchange::prepare_bytes,
     &HelloExchange::bytes},
    {"/files/", true, get | head, "GET, HEAD", &HelloExchange::prepare_file, &HelloExchange::file,
     true},
    {"/echo", false, post, "POST", &HelloExchange::prepare_echo, &HelloExchange::echo},
    {"/ws", false, get, "GET", &HelloExchange::prepare_websocket, &HelloExchange::websocket},
}};

}  // namespace

http::ExchangeFactory hello_exchanges(const HelloOptions& options) {
  auto shared = std::make_shared<const HelloOptions>(options);
  // The factory (copied into every connection handler) keeps the options alive for as long as
  // any Exchange it made: an Exchange never outlives its connection.
  return [shared]() -> std::unique_ptr<http::Exchange> {
    return std::make_unique<HelloExchange>(*shared);
  };
}

reactor::HandlerFactory hello_factory(const HelloOptions& options) {
  return [exchanges = hello_exchanges(options)]() -> std::unique_ptr<reactor::Handler> {
    return std::make_unique<http::Http1Connection>(exchanges);
  };
}

}  // namespace apps::hello
