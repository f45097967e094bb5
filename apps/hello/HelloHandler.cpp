#include "apps/hello/HelloHandler.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "apps/hello/BodySource.hpp"
#include "apps/hello/WebSocketEcho.hpp"
#include "apps/http/Chunked.hpp"
#include "apps/http/Date.hpp"
#include "apps/http/Fields.hpp"
#include "apps/http/HttpParser.hpp"
#include "apps/http/Status.hpp"
#include "apps/http/WebSocketHandshake.hpp"
#include "reactor/TurnTicket.hpp"

namespace apps::hello {

namespace {

// Chunks written per loop iteration, over all of a loop's connections (a reactor::TurnTicket
// budget, shared with the TLS handshake admission). A peer that reads as fast as we write never
// makes write() return false, so without it one download would keep the loop to itself until
// its last byte; with it, every iteration also serves the other connections' I/O.
constexpr std::size_t chunks_per_turn = 4;
// Unparsed input kept while a response is in flight or the queue is full; past it we stop
// reading, so a client that sends without reading cannot make us buffer without bound.
constexpr std::size_t max_buffered_input = 64 * 1024;
// A request line plus its header fields: 16 KiB, as hello always allowed.
constexpr http::HttpParser::Limits request_limits{16 * 1024, 100};

// append_head's length for a chunked body (no real length comes near it: /bytes/N stops at
// 1 TiB, and llhttp refuses a Content-Length that overflows 64 bits).
constexpr std::uint64_t chunked_length = UINT64_MAX;

constexpr std::string_view hello_body = "hello from tlsreactor\n";
constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

// Decimal digits only (no sign, no spaces), as /bytes/N wants them; false on overflow.
bool parse_decimal(std::string_view digits, std::uint64_t& value) {
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return !digits.empty() && ec == std::errc() && end == digits.data() + digits.size();
}

// Request methods as bits, so that a route lists the ones it answers in one number.
enum Method : unsigned { get = 1, head = 2, post = 4, other = 8 };

Method method_of(std::string_view name) {
  if (name == "GET") return get;
  if (name == "HEAD") return head;
  if (name == "POST") return post;
  return other;
}

// Why a request is refused: the status and the one line the response body carries.
struct Refusal {
  int status = 400;
  std::string_view reason;
};

class HelloHandler;

// One row of the route table. A request whose path matches gets `answer` when it is complete
// (its body read and discarded), or, for a route that consumes the body (`at_head`), as soon as
// its head is; a method not in `methods` gets 405 with `allow`.
struct Route {
  std::string_view path;
  bool prefix = false;  // `path` is a prefix; answer gets the rest of the path
  unsigned methods = 0;
  std::string_view allow;  // the Allow header's line for the 405
  void (HelloHandler::*answer)(reactor::Connection&, std::string_view rest) = nullptr;
  bool at_head = false;
  bool needs_root = false;  // only served when --root is set
};

// One connection. Requests are parsed in order, and each response is written whole (queued)
// before the next request is parsed; a streaming one is produced chunk by chunk meanwhile. Its
// phase is one of Phase, moved only by move_to(). Orthogonal to it: blocked_ (write() returned
// false: wait for on_drain before producing more) and waiting_turn_ (this loop iteration's chunk
// budget is spent: the ticket resumes the body in a later one).
class HelloHandler final : public reactor::Handler, private http::HttpEvents {
 public:
  explicit HelloHandler(std::shared_ptr<const HelloOptions> options)
      : options_(std::move(options)), turn_([this] { on_turn(); }) {
    new_parser();
  }

  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override {
    if (phase_ == Phase::taken_over) return successor_->on_data(conn, data);
    const std::string_view received(reinterpret_cast<const char*>(data.data()), data.size());
    if (!held_.empty()) {
      held_.append(received);
      return advance(conn, {});
    }
    // The usual case, nothing held: the read is parsed where it lies and only what is left of
    // it is kept (copied), so an idle connection holds no input buffer.
    advance(conn, received);
  }
  void on_drain(reactor::Connection& conn) override {
    if (phase_ == Phase::taken_over) return successor_->on_drain(conn);
    blocked_ = false;
    advance(conn, {});
  }
  // A peer that half-closes after its requests still gets every answer, then we close.
  void on_peer_closed(reactor::Connection& conn) override {
    if (phase_ == Phase::taken_over) return successor_->on_peer_closed(conn);
    peer_closed_ = true;
    advance(conn, {});
  }
  // Close at once when no response is in flight, else after it.
  void on_server_stopping(reactor::Connection& conn) override {
    if (phase_ == Phase::taken_over) return successor_->on_server_stopping(conn);
    stopping_ = true;
    advance(conn, {});
  }
  void on_close(reactor::Connection& conn, const reactor::Error& error) override {
    turn_.cancel();
    conn_ = nullptr;
    if (successor_) successor_->on_close(conn, error);
  }

 private:
  enum class Phase {
    request,       // parsing a request: its head, or the body of one answered when complete
    echo_length,   // POST /echo, Content-Length: the request body is the response body
    echo_chunked,  // POST /echo, chunked: each body piece goes back as one chunk
    streaming,     // the response body comes from source_; the parser waits behind it
    taken_over,    // a route handed the connection to successor_ (see take_over)
  };
  static const std::array<Route, 5> routes;

  void move_to(Phase next) { phase_ = next; }
  void new_parser() {
    parser_.emplace(http::HttpParser::Type::request, static_cast<http::HttpEvents&>(*this),
                    request_limits);
  }
  bool echoing() const { return phase_ == Phase::echo_length || phase_ == Phase::echo_chunked; }

  // ---- input -------------------------------------------------------------------------------

  // The admitted chunk is counted already: it goes without asking again.
  void on_turn() {
    waiting_turn_ = false;
    turn_granted_ = true;
    if (conn_ != nullptr && !conn_->is_closing()) advance(*conn_, {});
  }

  // Serves from held_, or from `fresh` (a read not copied anywhere) when nothing is held, then
  // keeps what was not consumed and decides whether to read on.
  void advance(reactor::Connection& conn, std::string_view fresh) {
    conn_ = &conn;
    serve(conn, fresh);
    if (conn.is_closing() || phase_ == Phase::taken_over) return;
    // An idle keep-alive connection should not keep what a partial request or a burst of
    // pipelining made it allocate.
    if (held_.empty() && held_.capacity() > std::string().capacity()) std::string().swap(held_);
    const bool pause = held_.size() > max_buffered_input;
    if (pause && !reading_paused_) conn.pause_reading();
    if (!pause && reading_paused_) conn.resume_reading();
    reading_paused_ = pause;
  }

  void serve(reactor::Connection& conn, std::string_view fresh) {
    while (!conn.is_closing()) {
      if (phase_ == Phase::taken_over) return hand_over(conn, fresh);
      if (blocked_ || waiting_turn_) break;
      if (phase_ == Phase::streaming) {
        pump(conn);
        continue;
      }
      if (stopping_ && phase_ == Phase::request) return conn.close();
      const bool from_fresh = held_.empty();
      const std::string_view input = from_fresh ? fresh : std::string_view(held_);
      if (input.empty()) {
        // The request under way can never complete; an echo already answering it is cut off.
        if (peer_closed_) echoing() ? conn.abort() : conn.close();
        break;
      }
      parser_->resume();
      const http::HttpParser::Result result = parser_->feed(input);
      if (from_fresh) {
        fresh.remove_prefix(result.consumed);
      } else {
        held_.erase(0, result.consumed);
      }
      if (result.status == http::HttpParser::Status::failed) {
        const http::HttpError& e = parser_->error();
        refuse(conn, {e.status, e.reason});
      } else if (result.status == http::HttpParser::Status::upgraded &&
                 phase_ != Phase::taken_over) {
        // The request asked to switch protocols (Upgrade, CONNECT) and got an ordinary answer:
        // RFC 9110 7.8 lets a server ignore Upgrade, and what follows is HTTP/1.1 again.
        new_parser();
      }
    }
    if (!fresh.empty()) held_.append(fresh);
  }

  // ---- http::HttpEvents ---------------------------------------------------------------------

  void on_message_begin() override {
    method_ = other;  // until the start line: a head the parser refuses is no HEAD's
    hosts_ = 0;
    expects_continue_ = false;
    handshake_ = {};
  }
  void on_start_line(const http::StartLine& line) override {
    method_ = method_of(line.method);
    handshake_.on_request_line(line.method, line.http_major, line.http_minor);
    // The target is looked up here, while its view is valid: only a prefix route's rest of the
    // path is kept (copied), so GET / copies nothing.
    target_is_path_ = line.target.starts_with('/');
    const std::string_view path = line.target.substr(0, line.target.find('?'));
    route_ = target_is_path_ ? find_route(path) : nullptr;
    rest_.assign(route_ != nullptr ? path.substr(route_->path.size()) : std::string_view());
    http_major_ = line.http_major;
    http_minor_ = line.http_minor;
  }
  void on_header(std::string_view name, std::string_view value) override {
    handshake_.on_header(name, value);
    if (http::equals_nocase(name, "host")) {
      ++hosts_;
    } else if (http::equals_nocase(name, "expect")) {
      expects_continue_ = http::lists_token(value, "100-continue");
    }
  }
  void on_headers_complete(const http::Framing& framing) override {
    reactor::Connection& conn = *conn_;
    if (conn.is_closing()) return;
    last_ = !framing.keep_alive;
    if (const auto refusal = head_problem()) return refuse(conn, *refusal);
    // The client waits for this before sending the body (RFC 9110 10.1.1); every route reads
    // the body, so every one says so.
    if (framing.has_body && expects_continue_ && http_minor_ >= 1) write(conn, continue_response);
    if (route_ != nullptr && route_->at_head && (route_->methods & method_) != 0) {
      request_framing_ = framing;
      (this->*route_->answer)(conn, rest_);
    }
    if (blocked_) parser_->pause();
  }
  void on_body(std::string_view bytes) override {
    if (echoing() && !conn_->is_closing()) echo_body(*conn_, bytes);
  }
  void on_message_complete() override {
    reactor::Connection& conn = *conn_;
    if (!conn.is_closing()) {
      if (echoing()) {
        finish_echo(conn);
      } else {
        answer(conn);
      }
    }
    // The next request waits for this response to be out of the way.
    if (phase_ != Phase::request || blocked_ || conn.is_closing()) parser_->pause();
  }

  // ---- requests ----------------------------------------------------------------------------

  // What RFC 9112 asks of a server beyond the parser's checks, and what hello cannot serve.
  std::optional<Refusal> head_problem() const {
    if (http_major_ != 1) return Refusal{505, "only HTTP/1.0 and HTTP/1.1 are supported"};
    if (hosts_ > 1) return Refusal{400, "more than one Host header"};
    if (hosts_ == 0 && http_minor_ == 1) return Refusal{400, "HTTP/1.1 request without Host"};
    if (!target_is_path_) return Refusal{400, "request target must be a path starting with /"};
    return std::nullopt;
  }

  const Route* find_route(std::string_view path) const {
    for (const Route& route : routes) {
      const bool match = route.prefix ? path.starts_with(route.path) : path == route.path;
      if (match && (!route.needs_root || !options_->root.empty())) return &route;
    }
    return nullptr;
  }

  void answer(reactor::Connection& conn) {
    if (route_ == nullptr) return reply(conn, 404, "not found\n");
    if ((route_->methods & method_) == 0) {
      std::string allow = "Allow: ";
      allow.append(route_->allow).append("\r\n");
      return reply(conn, 405, "method not allowed\n", allow);
    }
    (this->*route_->answer)(conn, rest_);
  }

  // Framing is lost after a parse error (and a refused head is not worth reading on from):
  // answer and close. An echo that has begun its 200 can only be cut off.
  void refuse(reactor::Connection& conn, Refusal refusal) {
    if (echoing()) return conn.abort();
    last_ = true;
    std::string body(refusal.reason);
    body += '\n';
    reply(conn, refusal.status, body);
    conn.close();
  }

  // ---- routes ------------------------------------------------------------------------------

  void greet(reactor::Connection& conn, std::string_view) {
    if (method_ != head && !last_) {
      write(conn, keep_alive_hello());
      return;
    }
    reply(conn, 200, hello_body);
  }

  void bytes(reactor::Connection& conn, std::string_view count) {
    std::uint64_t length = 0;
    if (!parse_decimal(count, length) || length > max_pattern_bytes)
      return reply(conn, 404, "not found\n");
    stream(conn, pattern_body(), length);
  }

  void file(reactor::Connection& conn, std::string_view relative) {
    if (!safe_relative_path(relative)) return reply(conn, 400, "bad file name\n");
    FileBody body = open_under(options_->root, relative);
    if (!body.source) return reply(conn, 404, "not found\n");
    stream(conn, std::move(body.source), body.size);
  }

  // GET /ws: a WebSocket echo (docs/websocket.md). A valid handshake gets the 101 and the
  // connection goes to WebSocketEcho; an invalid one its 400/426 and a close; a plain GET 426.
  void websocket(reactor::Connection& conn, std::string_view) {
    if (!handshake_.wants_websocket()) {
      last_ = true;
      reply(conn, 426, "GET /ws needs a WebSocket upgrade\n",
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
      return conn.close();
    }
    if (auto echo = accept_websocket(conn, handshake_, options_->websocket))
      take_over(std::move(echo));
  }

  // At the head: the response's head goes now, its body as the request's arrives. A request
  // without a body gets an empty one.
  void echo(reactor::Connection& conn, std::string_view) {
    const bool chunked = request_framing_.chunked;
    std::string& out = response_buffer();
    const std::uint64_t length =
        chunked ? chunked_length : request_framing_.content_length.value_or(0);
    append_head(out, 200, length, "application/octet-stream", {});
    write(conn, out);
    move_to(chunked ? Phase::echo_chunked : Phase::echo_length);
  }

  void echo_body(reactor::Connection& conn, std::string_view bytes) {
    if (phase_ == Phase::echo_chunked) {
      std::string& out = response_buffer();
      http::append_chunk(out, bytes);  // one write per piece: one TLS record, not three
      write(conn, out);
    } else {
      write(conn, bytes);
    }
    // Backpressure: the parser stops after this piece and the rest waits, unread past
    // max_buffered_input, until on_drain.
    if (blocked_) parser_->pause();
  }

  void finish_echo(reactor::Connection& conn) {
    if (phase_ == Phase::echo_chunked) {
      std::string& out = response_buffer();
      http::append_last_chunk(out, {});
      write(conn, out);
    }
    finish_response(conn);
  }

  // ---- responses ---------------------------------------------------------------------------

  // The response in flight is whole (queued): the next request may be parsed, or, after the
  // connection's last response, the connection closes once the queue is out.
  void finish_response(reactor::Connection& conn) {
    move_to(Phase::request);
    if (last_) conn.close();
  }

  // The response head (and a small body) is assembled in one buffer per loop thread, reused
  // by every response: no allocation per request once it has grown. write() copies what it
  // keeps, and nothing it calls answers another request on this thread meanwhile.
  static std::string& response_buffer() {
    thread_local std::string buffer;
    buffer.clear();
    return buffer;
  }

  // `length`: the Content-Length, or chunked_length.
  void append_head(std::string& out, int status, std::uint64_t length, std::string_view type,
                   std::string_view extra_headers) const {
    std::array<char, 24> digits{};
    const auto number = [&](std::uint64_t value) {
      const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr;
      return std::string_view(digits.data(), static_cast<std::size_t>(end - digits.data()));
    };
    out += "HTTP/1.1 ";
    out += number(static_cast<std::uint64_t>(status));
    out += ' ';
    out += http::reason_phrase(status);
    out += "\r\nServer: tlsreactor\r\nDate: ";
    out += http::http_date();
    out += "\r\nContent-Type: ";
    out += type;
    if (length != chunked_length) {
      out += "\r\nContent-Length: ";
      out += number(length);
      out += "\r\n";
    } else {
      out += "\r\nTransfer-Encoding: chunked\r\n";
    }
    out += extra_headers;
    out += last_ ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
  }

  // GET / on a keep-alive connection, the benchmark's request: the same bytes for a whole
  // second (the Date header's), so they are made once a second per loop thread.
  std::string_view keep_alive_hello() const {
    thread_local std::string date;
    thread_local std::string response;
    if (const std::string& now = http::http_date(); now != date) {
      date = now;
      response.clear();
      append_head(response, 200, hello_body.size(), "text/plain", {});
      response += hello_body;
    }
    return response;
  }

  // A small response in one write: head and, unless answering HEAD, the body.
  void reply(reactor::Connection& conn, int status, std::string_view body,
             std::string_view extra_headers = {}) {
    std::string& out = response_buffer();
    append_head(out, status, body.size(), "text/plain", extra_headers);
    if (method_ != head) out += body;
    write(conn, out);
    finish_response(conn);
  }

  void stream(reactor::Connection& conn, std::unique_ptr<BodySource> source, std::uint64_t length) {
    std::string& out = response_buffer();
    append_head(out, 200, length, "application/octet-stream", {});
    write(conn, out);
    if (method_ == head || length == 0) return finish_response(conn);
    source_ = std::move(source);
    body_left_ = length;
    move_to(Phase::streaming);
  }

  // Writes body chunks until the queue passes its high-water mark, the loop iteration's chunk
  // budget is spent or the body ends.
  void pump(reactor::Connection& conn) {
    while (body_left_ > 0 && !blocked_) {
      if (!std::exchange(turn_granted_, false) && !turn_.admit(conn.loop(), chunks_per_turn)) {
        waiting_turn_ = true;
        return;
      }
      const auto chunk =
          source_->next(static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, chunk_size)));
      if (chunk.empty()) return conn.abort();  // the promised Content-Length cannot be kept
      body_left_ -= chunk.size();
      write(conn, chunk);
    }
    if (body_left_ == 0) {
      source_.reset();
      finish_response(conn);
    }
  }

  // ---- switching protocols -----------------------------------------------------------------

  // For a route that switches protocols (a 101 answer to Upgrade, say): called from its answer
  // after writing the response, it hands the connection to `successor` for good. The successor
  // gets on_open, then the bytes that followed the request (if any), then every later event of
  // the connection, on_close included; this handler only forwards. If the response's write()
  // returned false, the successor's first on_drain says when the queue is low again.
  void take_over(std::unique_ptr<reactor::Handler> successor) {
    successor_ = std::move(successor);
    move_to(Phase::taken_over);
    parser_->pause();
  }

  void hand_over(reactor::Connection& conn, std::string_view fresh) {
    std::string rest = std::exchange(held_, {});
    rest.append(fresh);
    turn_.cancel();
    if (reading_paused_) conn.resume_reading();
    reading_paused_ = false;
    successor_->on_open(conn);
    if (!rest.empty() && !conn.is_closing())
      successor_->on_data(conn, std::as_bytes(std::span(rest.data(), rest.size())));
    if (peer_closed_ && !conn.is_closing()) successor_->on_peer_closed(conn);
    if (stopping_ && !conn.is_closing()) successor_->on_server_stopping(conn);
  }

  // ---- output ------------------------------------------------------------------------------

  void write(reactor::Connection& conn, std::span<const std::byte> bytes) {
    if (!conn.write(bytes)) blocked_ = true;
  }
  void write(reactor::Connection& conn, std::string_view text) {
    write(conn, std::as_bytes(std::span(text.data(), text.size())));
  }

  std::shared_ptr<const HelloOptions> options_;
  std::optional<http::HttpParser> parser_;  // optional: made anew after a declined Upgrade
  Phase phase_ = Phase::request;
  std::string held_;  // received, not yet consumed by the parser

  // The request being parsed or answered.
  Method method_ = get;
  bool target_is_path_ = true;  // origin-form: what hello serves
  std::string rest_;            // the path after a prefix route's prefix (the query dropped)
  int http_major_ = 1;
  int http_minor_ = 1;
  int hosts_ = 0;
  bool expects_continue_ = false;
  const Route* route_ = nullptr;
  http::Framing request_framing_;       // for a route answered at the head
  http::WebSocketHandshake handshake_;  // the request's WebSocket ask, for /ws

  std::unique_ptr<BodySource> source_;  // the streaming response's body
  std::uint64_t body_left_ = 0;
  std::unique_ptr<reactor::Handler> successor_;  // after take_over
  reactor::TurnTicket turn_;                     // the next chunk's place in a later iteration
  reactor::Connection* conn_ = nullptr;          // for events and the ticket; null after on_close
  bool blocked_ = false;                         // write() returned false; on_drain clears it
  bool waiting_turn_ = false;  // the ticket waits: the body resumes in a later iteration
  bool turn_granted_ = false;  // on_turn admitted the next chunk already
  bool last_ = false;          // the response in flight is the connection's last
  bool reading_paused_ = false;
  bool peer_closed_ = false;
  bool stopping_ = false;
};

// The hot route first: GET / is the benchmark's request. A new route (GET /ws, say) is one
// more row and one more member; one that switches protocols calls take_over from its answer.
const std::array<Route, 5> HelloHandler::routes{{
    {"/", false, get | head | post, "GET, HEAD, POST", &HelloHandler::greet},
    {"/bytes/", true, get | head, "GET, HEAD", &HelloHandler::bytes},
    {"/files/", true, get | head, "GET, HEAD", &HelloHandler::file, false, true},
    {"/echo", false, post, "POST", &HelloHandler::echo, true},
    {"/ws", false, get, "GET", &HelloHandler::websocket},
}};

}  // namespace

reactor::HandlerFactory hello_factory(const HelloOptions& options) {
  auto shared = std::make_shared<const HelloOptions>(options);
  return [shared] { return std::make_unique<HelloHandler>(shared); };
}

}  // namespace apps::hello
