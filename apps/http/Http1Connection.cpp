#include "apps/http/Http1Connection.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <utility>

#include "apps/http/Chunked.hpp"
#include "apps/http/Date.hpp"
#include "apps/http/Fields.hpp"
#include "apps/http/Status.hpp"
#include "reactor/Loop.hpp"

namespace apps::http {
namespace {

// Input kept unparsed while an exchange holds the parser; past it reading pauses, so a client
// that sends without reading cannot make us buffer without bound.
constexpr std::size_t max_held_input = 64 * 1024;
// A head and body bytes up to this much go out in one write (one TLS record, one syscall).
constexpr std::size_t coalesce_bytes = 16 * 1024;
// Writes this large or larger take a turn of the loop's budget, so many per iteration over all
// of a loop's connections (the same budget a TLS handshake's admission counts against).
constexpr std::size_t fair_write_bytes = 64 * 1024;
constexpr std::size_t writes_per_turn = 4;
// out_ keeps its capacity between responses up to this; a larger one is given back.
constexpr std::size_t kept_out_capacity = 4 * 1024;

std::string_view text_of(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

char* put(char* at, std::string_view text) {
  std::memcpy(at, text.data(), text.size());
  return at + text.size();
}

char* put_number(char* at, std::uint64_t value) {
  return std::to_chars(at, at + 20, value).ptr;  // 20 digits hold any 64-bit value
}

void append_number(std::string& out, std::uint64_t value) {
  std::array<char, 20> digits;  // NOLINT: written by to_chars before it is read
  out.append(digits.data(), put_number(digits.data(), value));
}

// "HTTP/1.1 NNN Reason\r\n", sized and written at once: every response starts with one.
void append_status_line(std::string& out, int status) {
  const std::string_view reason = reason_phrase(status);
  const std::size_t at = out.size();
  out.resize(at + 15 + reason.size());
  char* p = put(out.data() + at, "HTTP/1.1 ");
  *p++ = static_cast<char>('0' + status / 100 % 10);
  *p++ = static_cast<char>('0' + status / 10 % 10);
  *p++ = static_cast<char>('0' + status % 10);
  *p++ = ' ';
  p = put(p, reason);
  put(p, "\r\n");
}

// The last response head a loop thread rendered, with what it was rendered from. An app that
// answers many requests alike (hello's GET /, the keep-alive benchmark's request: the same
// fields but for a Date that changes once a second) gets its head copied instead of
// serialized again; checking a field is a length and a memcmp, cheaper than writing it.
struct HeadMemo {
  // What the head depends on besides the fields.
  struct Key {
    int status = 0;
    std::optional<std::uint64_t> length;
    bool has_body = false, head_request = false, http11 = false, last = false;
    bool operator==(const Key&) const = default;
  };
  Key key;
  std::vector<std::size_t> sizes;  // each field's name and value sizes, in order
  std::string texts;               // the fields' names and values, concatenated
  std::string text;                // the head
  int framing = 0;                 // the BodyFraming it set, as an int (private to the class)
  bool last_after = false;         // and whether the response was then the last

  bool matches(const Key& k, std::span<const Field> fields) const {
    if (!(k == key) || sizes.size() != 2 * fields.size()) return false;
    const char* at = texts.data();
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const Field& f = fields[i];
      if (sizes[2 * i] != f.name.size() || sizes[2 * i + 1] != f.value.size()) return false;
      if (std::memcmp(at, f.name.data(), f.name.size()) != 0) return false;
      at += f.name.size();
      if (std::memcmp(at, f.value.data(), f.value.size()) != 0) return false;
      at += f.value.size();
    }
    return true;
  }
  void store(const Key& k, std::span<const Field> fields, std::string_view head) {
    key = k;
    sizes.clear();
    texts.clear();
    for (const Field& f : fields) {
      sizes.push_back(f.name.size());
      sizes.push_back(f.value.size());
      texts.append(f.name).append(f.value);
    }
    text.assign(head);
  }
};

HeadMemo& head_memo() {
  thread_local HeadMemo memo;
  return memo;
}

}  // namespace

// Marks an event of ours on the stack: the Exchange's calls made meanwhile leave the moving on
// to advance(), which runs once the event's work is done.
struct Http1Connection::Busy {
  explicit Busy(Http1Connection& c) : c_(c) { ++c_.depth_; }
  ~Busy() { --c_.depth_; }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;
  Http1Connection& c_;
};

Http1Connection::Http1Connection(ExchangeFactory factory, Http1Options options)
    : factory_(std::move(factory)),
      options_(std::move(options)),
      parser_(HttpParser::Type::request, static_cast<HttpEvents&>(*this), options_.limits),
      turn_([this] { on_turn(); }) {}

Http1Connection::~Http1Connection() = default;

// ---- the connection's events -----------------------------------------------------------------

void Http1Connection::on_open(reactor::Connection& conn) {
  conn_ = &conn;
  turn_end_.emplace(conn.loop(), [this] { at_turn_end(); });
  if (options_.head_timeout.count() > 0)
    head_timer_.emplace(conn.loop(), [this] { on_head_timer(); });
}

void Http1Connection::on_data(reactor::Connection& conn, std::span<const std::byte> data) {
  if (state_ == State::upgraded) return successor_->on_data(conn, data);
  conn_ = &conn;
  if (!held_.empty()) {
    held_.append(text_of(data));
    return advance({});
  }
  // The usual case, nothing held: the read is parsed where it lies and only what is left of
  // it is kept (copied), so an idle connection holds no input buffer.
  advance(text_of(data));
}

void Http1Connection::on_drain(reactor::Connection& conn) {
  if (state_ == State::upgraded) return successor_->on_drain(conn);
  conn_ = &conn;
  blocked_ = false;
  writable();
  advance({});
}

// A peer that half-closes after its requests still gets every answer, then we close.
void Http1Connection::on_peer_closed(reactor::Connection& conn) {
  if (state_ == State::upgraded) return successor_->on_peer_closed(conn);
  conn_ = &conn;
  peer_closed_ = true;
  advance({});
}

// Idle: close now. Busy: after the response, which says so if its head is still to come.
void Http1Connection::on_server_stopping(reactor::Connection& conn) {
  if (state_ == State::upgraded) return successor_->on_server_stopping(conn);
  conn_ = &conn;
  stopping_ = true;
  if (answer_ == Answer::pending) last_ = true;
  advance({});
}

void Http1Connection::on_close(reactor::Connection& conn, const reactor::Error& error) {
  turn_.cancel();
  head_timer_.reset();
  turn_end_.reset();
  conn_ = nullptr;
  if (const auto exchange = std::move(exchange_)) exchange->on_closed(false);
  // Also a successor the connection ended before handing over to: it may hold the connection.
  if (successor_) successor_->on_close(conn, error);
}

// Lazily armed (on_message_begin): the deadline is the head's first byte plus the timeout, and a
// firing that finds an earlier head finished, or this one younger, only re-arms for the rest.
void Http1Connection::on_head_timer() {
  if (!in_head_ || conn_ == nullptr || conn_->is_closing()) return;
  const auto limit = static_cast<std::uint64_t>(options_.head_timeout.count());
  const std::uint64_t age = conn_->loop().now() - head_began_;
  if (age < limit) return head_timer_->start(std::chrono::milliseconds(limit - age));
  in_head_ = false;
  refuse(408, "request head not received within " + seconds_text(options_.head_timeout));
}

void Http1Connection::on_turn() {
  waiting_turn_ = false;
  turn_granted_ = true;  // the admitted write is counted already: it goes without asking again
  if (conn_ == nullptr || conn_->is_closing() || state_ == State::upgraded) return;
  writable();
  advance({});
}

void Http1Connection::later() {
  if (turn_end_ && state_ != State::upgraded) turn_end_->request();
}

void Http1Connection::at_turn_end() {
  if (conn_ != nullptr && !conn_->is_closing() && state_ != State::upgraded) advance({});
}

void Http1Connection::writable() {
  if (!owes_writable_ || blocked_ || waiting_turn_ || answer_ != Answer::open) return;
  owes_writable_ = false;
  const Busy busy(*this);
  exchange_->on_writable();
}

// ---- moving on -------------------------------------------------------------------------------

void Http1Connection::advance(std::string_view fresh) {
  reactor::Connection& conn = *conn_;
  {
    const Busy busy(*this);
    serve(fresh);
  }
  if (!fresh.empty()) held_.append(fresh);
  if (conn.is_closing() || state_ == State::upgraded) return;
  flush();
  // An idle keep-alive connection should not keep what a partial request, a burst of
  // pipelining or a large chunk made it allocate.
  if (held_.empty() && held_.capacity() > std::string().capacity()) std::string().swap(held_);
  if (out_.capacity() > kept_out_capacity) std::string().swap(out_);
  const bool pause = held_.size() > max_held_input;
  if (pause && !reading_paused_) conn.pause_reading();
  if (!pause && reading_paused_) conn.resume_reading();
  reading_paused_ = pause;
}

bool Http1Connection::may_parse() const {
  switch (state_) {
    case State::idle:
      return !blocked_;  // the next request waits while the peer does not read our answers
    case State::reading:
      return !body_paused_;
    case State::responding:
    case State::upgraded:
      return false;
  }
  return false;
}

void Http1Connection::serve(std::string_view& fresh) {
  while (!conn_->is_closing() && state_ != State::upgraded) {
    if (exchange_ && answer_ == Answer::done &&
        (state_ == State::responding || (state_ == State::reading && last_))) {
      finish_exchange();
      continue;
    }
    if (successor_ && parser_upgraded_) return hand_over(fresh);
    if (state_ == State::idle && stopping_) return conn_->close();
    if (!may_parse()) break;
    const bool from_fresh = held_.empty();
    const std::string_view input = from_fresh ? fresh : std::string_view(held_);
    if (input.empty()) {
      if (peer_closed_) input_ended();
      break;
    }
    if (parser_upgraded_) {
      // The request before asked to switch protocols and got an ordinary answer: RFC 9110 7.8
      // lets a server ignore Upgrade, and what follows is HTTP/1.1 again.
      parser_upgraded_ = false;
      parser_.resume_after_upgrade();
    }
    parser_.resume();
    const HttpParser::Result result = parser_.feed(input);
    if (from_fresh) {
      fresh.remove_prefix(result.consumed);
    } else {
      held_.erase(0, result.consumed);
    }
    if (result.status == HttpParser::Status::failed) {
      refuse(parser_.error().status, parser_.error().reason);
    } else if (result.status == HttpParser::Status::upgraded) {
      parser_upgraded_ = true;
    }
  }
}

void Http1Connection::finish_exchange() {
  const std::unique_ptr<Exchange> exchange = std::move(exchange_);
  exchange->on_closed(true);
  move_to(State::idle);
  answer_ = Answer::pending;
  framing_ = BodyFraming::none;
  owes_writable_ = false;
  body_paused_ = false;
  if (last_ && !successor_) {
    flush();
    conn_->close();
  }
}

void Http1Connection::input_ended() {
  if (state_ == State::idle || (state_ == State::reading && answer_ != Answer::open)) {
    flush();
    return conn_->close();
  }
  // The request can never complete, and a response already under way is cut off.
  if (state_ == State::reading) cut_off();
}

void Http1Connection::hand_over(std::string_view& fresh) {
  reactor::Connection& conn = *conn_;
  std::string rest = std::exchange(held_, {});
  rest.append(fresh);
  fresh = {};
  flush();  // the 101
  turn_.cancel();
  if (reading_paused_) conn.resume_reading();
  reading_paused_ = false;
  move_to(State::upgraded);
  successor_->on_open(conn);
  if (!rest.empty() && !conn.is_closing())
    successor_->on_data(conn, std::as_bytes(std::span(rest.data(), rest.size())));
  if (peer_closed_ && !conn.is_closing()) successor_->on_peer_closed(conn);
  if (stopping_ && !conn.is_closing()) successor_->on_server_stopping(conn);
}

// Framing is lost after a parse error (and a refused head is not worth reading on from):
// answer and close. A response that has begun can only be cut off.
void Http1Connection::refuse(int status, std::string_view reason) {
  parser_.pause();
  if (exchange_ && answer_ != Answer::pending) return cut_off();
  if (options_.on_refused) options_.on_refused(Refusal{status, reason});
  last_ = true;
  append_status_line(out_, status);
  out_ += "Server: tlsreactor\r\nDate: ";
  out_ += http_date();
  out_ += "\r\nContent-Type: text/plain\r\nContent-Length: ";
  append_number(out_, reason.size() + 1);
  out_ += "\r\nConnection: close\r\n\r\n";
  if (!head_request_) out_.append(reason).append("\n");
  flush();
  conn_->close();
}

void Http1Connection::send_continue() {
  continue_sent_ = true;
  out_ += "HTTP/1.1 100 Continue\r\n\r\n";
}

// ---- HttpEvents ------------------------------------------------------------------------------

void Http1Connection::on_message_begin() {
  if (head_timer_) {
    in_head_ = true;
    head_began_ = conn_->loop().now();
    if (!head_timer_->active()) head_timer_->start(options_.head_timeout);
  }
  fields_.clear();
  trailers_.clear();
  authority_ = {};
  hosts_ = 0;
  expects_continue_ = false;
  head_request_ = false;  // until the start line: a head the parser refuses is no HEAD's
}

void Http1Connection::on_start_line(const StartLine& line) {
  method_ = line.method;
  target_ = line.target;
  http_major_ = line.http_major;
  http_minor_ = line.http_minor;
  head_request_ = line.method == "HEAD";
}

void Http1Connection::on_header(std::string_view name, std::string_view value) {
  if (equals_nocase(name, "host")) {
    ++hosts_;
    authority_ = value;
    return;
  }
  if (equals_nocase(name, "expect")) expects_continue_ = lists_token(value, "100-continue");
  fields_.push_back({name, value});
}

void Http1Connection::on_headers_complete(const Framing& framing) {
  in_head_ = false;
  if (conn_->is_closing()) return parser_.pause();
  // What RFC 9112 asks of a server beyond the parser's checks.
  if (http_major_ != 1) return refuse(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  if (hosts_ > 1) return refuse(400, "more than one Host header");
  if (hosts_ == 0 && http_minor_ == 1) return refuse(400, "HTTP/1.1 request without Host");
  const bool connect = framing.connect && options_.connect;
  if (!connect && !target_.starts_with('/'))
    return refuse(400, "request target must be a path starting with /");
  if (connect) authority_ = target_;  // authority-form: the target names the destination

  // After a CONNECT that did not become a tunnel, what the client sends next is not HTTP.
  last_ = !framing.keep_alive || stopping_ || connect;
  upgrade_asked_ = (framing.upgrade && !framing.connect) || connect;
  body_expected_ = framing.has_body;
  expects_continue_ = expects_continue_ && http_minor_ >= 1;
  continue_sent_ = false;
  answer_ = Answer::pending;
  move_to(State::reading);
  exchange_ = factory_();
  if (!exchange_) return conn_->abort();
  RequestHead head;
  head.protocol = http_minor_ == 0 ? "HTTP/1.0" : "HTTP/1.1";
  head.method = method_;
  head.target = target_;
  head.authority = authority_;
  head.fields = fields_;
  head.content_length = framing.content_length;
  head.has_body = framing.has_body;
  exchange_->on_request(head, *this);
  if (conn_->is_closing()) return parser_.pause();
  // The client waits for this before sending the body (RFC 9110 10.1.1).
  if (body_expected_ && expects_continue_ && answer_ == Answer::pending && !body_paused_ &&
      !continue_sent_)
    send_continue();
  if (body_paused_) parser_.pause();
}

void Http1Connection::on_body(std::string_view bytes) {
  if (!exchange_ || conn_->is_closing()) return parser_.pause();
  exchange_->on_body(std::as_bytes(std::span(bytes.data(), bytes.size())));
  if (body_paused_) parser_.pause();
}

void Http1Connection::on_trailer(std::string_view name, std::string_view value) {
  trailers_.push_back({name, value});
}

void Http1Connection::on_message_complete() {
  if (!exchange_ || conn_->is_closing()) return parser_.pause();
  exchange_->on_body_end(trailers_);
  if (conn_->is_closing()) return parser_.pause();
  if (answer_ == Answer::done) {
    finish_exchange();
  } else {
    move_to(State::responding);
  }
  // The next request waits for this response to be whole, and for room to answer it.
  if (state_ != State::idle || blocked_ || stopping_ || conn_->is_closing()) parser_.pause();
}

// ---- Response --------------------------------------------------------------------------------

bool Http1Connection::drivers_field(const Field& f) {
  if (f.name.empty()) return false;
  switch (f.name.front() | 0x20) {
    case 'c':
      if (equals_nocase(f.name, "connection")) {
        if (lists_token(f.value, "close")) last_ = true;
        return true;
      }
      return equals_nocase(f.name, "content-length");
    case 't':
      return equals_nocase(f.name, "transfer-encoding");
    case 'k':
      return equals_nocase(f.name, "keep-alive");
    default:
      return false;
  }
}

// Sized, then written in place: one resize instead of four appends a field (the keep-alive
// benchmark's responses are mostly this).
void Http1Connection::append_fields(std::span<const Field> fields) {
  std::size_t size = 0;
  for (const Field& f : fields)
    if (!drivers_field(f)) size += f.name.size() + f.value.size() + 4;
  const std::size_t at = out_.size();
  out_.resize(at + size);
  char* p = out_.data() + at;
  for (const Field& f : fields) {
    if (drivers_field(f)) continue;
    p = put(p, f.name);
    p = put(p, ": ");
    p = put(p, f.value);
    p = put(p, "\r\n");
  }
}

void Http1Connection::render_head(int status, std::span<const Field> fields,
                                  std::optional<std::uint64_t> length, bool has_body) {
  const bool sends_body = has_body && !head_request_ && status != 204 && status != 304;
  append_status_line(out_, status);
  append_fields(fields);
  framing_ = BodyFraming::none;
  // The driver's own fields, gathered here and appended at once.
  std::array<char, 96> tail;  // NOLINT: written before it is read
  char* p = tail.data();
  if (status == 204) {
    // No Content-Length and no body, whatever the Exchange said (RFC 9110 8.6).
  } else if (length) {
    p = put(p, "Content-Length: ");
    p = put_number(p, *length);
    p = put(p, "\r\n");
    length_left_ = *length;
    if (sends_body && *length > 0) framing_ = BodyFraming::length;
  } else if (!has_body) {
    if (status != 304) p = put(p, "Content-Length: 0\r\n");
  } else if (http_minor_ >= 1) {
    p = put(p, "Transfer-Encoding: chunked\r\n");
    if (sends_body) framing_ = BodyFraming::chunked;
  } else if (sends_body) {
    framing_ = BodyFraming::until_close;  // HTTP/1.0 knows no chunked
    last_ = true;
  }
  p = put(p, last_ ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n");
  out_.append(tail.data(), p);
}

void Http1Connection::head(int status, std::span<const Field> fields,
                           std::optional<std::uint64_t> length, bool has_body) {
  if (answer_ != Answer::pending || !exchange_ || conn_ == nullptr || status < 200 || status > 999)
    return;
  // A final answer to a client still waiting for "100 Continue". A 2xx one belongs with the
  // body (POST /echo answers at the head): the 100 goes first and the client sends it. Any
  // other may be all there is: the client may or may not send the body, so the connection
  // cannot carry another request.
  if (state_ == State::reading && body_expected_ && expects_continue_ && !continue_sent_) {
    if (status < 300 && !body_paused_)
      send_continue();
    else
      last_ = true;
  }
  if (stopping_) last_ = true;
  const HeadMemo::Key key{status, length, has_body, head_request_, http_minor_ >= 1, last_};
  HeadMemo& memo = head_memo();
  if (memo.matches(key, fields)) {
    out_ += memo.text;
    framing_ = static_cast<BodyFraming>(memo.framing);
    last_ = memo.last_after;
    if (length) length_left_ = *length;
  } else {
    const std::size_t at = out_.size();
    render_head(status, fields, length, has_body);
    memo.store(key, fields, std::string_view(out_).substr(at));
    memo.framing = static_cast<int>(framing_);
    memo.last_after = last_;
  }
  answer_ = framing_ == BodyFraming::none ? Answer::done : Answer::open;
  // From outside our events (an upstream's answer), the head waits for the turn's end, so that
  // the body bytes the same turn brings leave with it in one write (one TLS record).
  if (depth_ == 0) later();
}

void Http1Connection::informational(int status, std::span<const Field> fields) {
  if (answer_ != Answer::pending || !exchange_ || conn_ == nullptr || status < 100 ||
      status > 199 || status == 101 || http_minor_ == 0)
    return;
  if (status == 100) {
    if (continue_sent_ || !expects_continue_) return;
    continue_sent_ = true;
  }
  append_status_line(out_, status);
  append_fields(fields);
  out_ += "\r\n";
  if (depth_ == 0) flush();
}

bool Http1Connection::body(std::span<const std::byte> bytes) {
  if (answer_ != Answer::open || conn_ == nullptr) return !blocked_;
  const std::string_view text = text_of(bytes);
  if (text.empty()) return !blocked_ && !waiting_turn_;
  if (framing_ == BodyFraming::length) {
    if (text.size() > length_left_) {
      abort();  // more than the Content-Length promised: the framing would break
      return false;
    }
    length_left_ -= text.size();
  }
  if (framing_ == BodyFraming::chunked && text.size() < coalesce_bytes) {
    append_chunk(out_, text);
  } else if (framing_ == BodyFraming::chunked) {
    append_chunk_size(out_, text.size());
    flush();
    write(text);
    out_ += "\r\n";
  } else if (!out_.empty() && out_.size() + text.size() <= coalesce_bytes) {
    out_ += text;  // behind the head, in one write
  } else {
    flush();
    write(text);
  }
  if (out_.size() >= coalesce_bytes) {
    flush();
  } else if (depth_ == 0) {
    later();  // gathered with what else the turn brings, up to coalesce_bytes
  }
  if (text.size() >= fair_write_bytes && !take_turn()) {
    waiting_turn_ = true;
    owes_writable_ = true;
    return false;
  }
  if (blocked_) owes_writable_ = true;
  return !blocked_;
}

bool Http1Connection::take_turn() {
  if (std::exchange(turn_granted_, false)) return true;
  return turn_.admit(conn_->loop(), writes_per_turn);
}

void Http1Connection::end(std::span<const Field> trailers) {
  if (answer_ != Answer::open || conn_ == nullptr) return;
  if (framing_ == BodyFraming::length && length_left_ != 0) return abort();  // fewer than promised
  if (framing_ == BodyFraming::chunked) {
    out_ += "0\r\n";
    append_fields(trailers);
    out_ += "\r\n";
  }
  answer_ = Answer::done;
  if (depth_ == 0) later();  // flushed and finished at the turn's end
}

void Http1Connection::abort() {
  if (conn_ != nullptr && !conn_->is_closing()) cut_off();
}

// What the Exchange handed to body() reaches the connection before the abort, however much of
// it out_ was still gathering: the gathering is an optimization and must not decide what a
// client that cuts its request short gets (the hello-request fuzzer compares whole and split
// inputs and found it did).
void Http1Connection::cut_off() {
  flush();
  conn_->abort();
}

void Http1Connection::pause_body() {
  body_paused_ = true;
  if (state_ == State::reading) parser_.pause();
}

void Http1Connection::resume_body() {
  if (!body_paused_) return;
  body_paused_ = false;
  if (state_ == State::reading && body_expected_ && expects_continue_ &&
      answer_ == Answer::pending && !continue_sent_)
    send_continue();
  if (depth_ == 0) {
    flush();
    later();
  }
}

bool Http1Connection::switch_protocols(std::string_view head,
                                       std::unique_ptr<reactor::Handler> next) {
  if (answer_ != Answer::pending || !exchange_ || conn_ == nullptr || !upgrade_asked_ || !next)
    return false;
  out_ += head;
  successor_ = std::move(next);
  last_ = false;
  answer_ = Answer::done;
  flush();  // now: the caller may relay to the connection right after this
  if (depth_ == 0) later();
  return true;
}

// ---- output ----------------------------------------------------------------------------------

void Http1Connection::write(std::string_view bytes) {
  if (!conn_->write(std::as_bytes(std::span(bytes.data(), bytes.size())))) blocked_ = true;
}

void Http1Connection::flush() {
  if (out_.empty() || conn_ == nullptr) return;
  write(out_);
  out_.clear();
}

}  // namespace apps::http
