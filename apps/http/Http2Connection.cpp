#include "apps/http/Http2Connection.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "apps/http/Fields.hpp"
#include "reactor/Log.hpp"

namespace apps::http {
namespace {

// RFC 9113 8.2.2: fields that describe one HTTP/1.1 connection have no place in HTTP/2.
bool connection_specific(std::string_view name) {
  for (const std::string_view banned :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"})
    if (equals_nocase(name, banned)) return true;
  return false;
}

// An app's fields as HTTP/2 wants them: names in lower case, connection-specific ones left out.
Fields h2_fields(std::span<const Field> fields) {
  Fields out;
  out.reserve(fields.size());
  for (const Field& f : fields) {
    if (connection_specific(f.name) || f.name.empty() || f.name.front() == ':') continue;
    std::string name(f.name);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.emplace_back(std::move(name), std::string(f.value));
  }
  return out;
}

std::vector<Field> views(const Fields& fields) {
  std::vector<Field> out;
  out.reserve(fields.size());
  for (const auto& [name, value] : fields) out.push_back({name, value});
  return out;
}

}  // namespace

// What an Exchange answers through: its stream's side of the session.
class Http2Connection::StreamResponse final : public Response {
 public:
  StreamResponse(Http2Connection& owner, std::int32_t id, bool head_request)
      : owner_(owner), id_(id), head_request_(head_request) {}

  void head(int status, std::span<const Field> fields, std::optional<std::uint64_t> length,
            bool has_body) override {
    Fields out = h2_fields(fields);
    if (length) out.emplace_back("content-length", std::to_string(*length));
    body_ = has_body && !head_request_ && status != 204 && status != 304;
    owner_.session_.respond(id_, status, out, body_);
    owner_.flush_later();
  }
  void informational(int status, std::span<const Field> fields) override {
    if (owner_.session_.inform(id_, status, h2_fields(fields))) owner_.flush_later();
  }
  bool body(std::span<const std::byte> bytes) override {
    if (!body_) return true;
    // The frames go out at the end of the turn, so on_writable cannot come before this answer.
    const bool room = owner_.session_.write(id_, bytes);
    owner_.flush_later();
    return room;
  }
  void end(std::span<const Field> trailers) override {
    if (!body_) return;
    owner_.session_.end(id_, h2_fields(trailers));
    owner_.flush_later();
  }
  void abort() override {
    owner_.session_.reset(id_, NGHTTP2_INTERNAL_ERROR);
    owner_.flush_later();
  }
  void pause_body() override { paused_ = true; }
  void resume_body() override {
    paused_ = false;
    owner_.session_.consume(id_, std::exchange(unconsumed_, 0));
    owner_.flush_later();
  }

  // Body bytes the Exchange was given: its window opens for them now, or on resume_body().
  void took(std::size_t n) {
    if (paused_)
      unconsumed_ += n;
    else
      owner_.session_.consume(id_, n);
  }

 private:
  Http2Connection& owner_;
  std::int32_t id_;
  bool head_request_;
  bool body_ = false;
  bool paused_ = false;
  std::size_t unconsumed_ = 0;
};

struct Http2Connection::Stream {
  std::unique_ptr<Exchange> exchange;
  std::unique_ptr<StreamResponse> response;
};

Http2Connection::Http2Connection(ExchangeFactory factory, Http2Limits limits)
    : factory_(std::move(factory)), session_(*this, limits) {}

Http2Connection::~Http2Connection() = default;

void Http2Connection::start(reactor::Connection& conn, std::span<const std::byte> early) {
  conn_ = &conn;
  if (session_.limits().stall_timeout.count() > 0)
    stall_timer_.emplace(conn.loop(), [this] { on_stall_timer(); });
  flush_turn_.emplace(conn.loop(), [this] { flush_guarded(); });
  if (!early.empty())
    feed(early);
  else
    flush();  // the server's SETTINGS go first
}

void Http2Connection::on_data(reactor::Connection&, std::span<const std::byte> data) {
  feed(data);
}

void Http2Connection::feed(std::span<const std::byte> bytes) {
  // A failure is flush()'s to log, and to close on once the GOAWAY went out. What an event
  // throws reaches the reactor, which aborts this connection (handler_failed) and logs it.
  session_.feed(bytes);
  flush_later();
}

void Http2Connection::log(std::string_view what) const {
  if (conn_ != nullptr)
    reactor::log::info(conn_->peer_address().to_string() + ": HTTP/2: " + std::string(what));
}

void Http2Connection::on_limit(std::string_view what) {
  log(what);
}

void Http2Connection::arm_stall_timer() {
  if (!stall_timer_ || stall_timer_->active() || conn_ == nullptr) return;
  const reactor::ConnectionStats stats = conn_->stats();
  if (session_.open_streams() == 0 && stats.queued_bytes == 0) return;
  written_at_tick_ = stats.bytes_written;
  stall_timer_->start(session_.limits().stall_timeout);
}

void Http2Connection::on_stall_timer() {
  if (conn_ == nullptr || conn_->is_closing()) return;
  const reactor::ConnectionStats stats = conn_->stats();
  if (stats.queued_bytes > 0 && stats.bytes_written == written_at_tick_) {
    // Not even a GOAWAY would reach a peer that reads nothing: end it here, and its memory.
    log("the client read nothing for " + std::to_string(session_.limits().stall_timeout.count()) +
        " ms (h2-stall-timeout) with " + std::to_string(stats.queued_bytes) +
        " bytes queued: connection aborted");
    return conn_->abort();
  }
  session_.sweep_stalled();
  flush_guarded();  // sends the resets or the GOAWAY, and starts the next period unless it closed
}

void Http2Connection::flush_guarded() noexcept {
  // Outside the reactor's handler calls, what an Exchange throws from inside output() is this
  // connection's to end, as the reactor would have.
  try {
    flush();
  } catch (const std::exception& e) {
    log(std::string("an exchange threw: ") + e.what() + "; connection aborted");
    if (conn_ != nullptr) conn_->abort();
  } catch (...) {
    log("an exchange threw a non-standard exception; connection aborted");
    if (conn_ != nullptr) conn_->abort();
  }
}

void Http2Connection::flush_later() {
  // Inside flush(), output() serializes what was just queued before flush() returns.
  if (!flushing_ && flush_turn_) flush_turn_->request();
}

void Http2Connection::flush() {
  if (flushing_ || conn_ == nullptr || conn_->is_closing()) return;
  flushing_ = true;
  while (!blocked_) {
    const std::string_view out = session_.output();
    if (out.empty()) break;
    const bool room = conn_->write(std::as_bytes(std::span(out.data(), out.size())));
    session_.consume_output(out.size());
    if (!room) blocked_ = true;
  }
  flushing_ = false;
  if (!error_logged_ && !session_.error().empty()) {
    error_logged_ = true;
    log(session_.error());
  }
  if (session_.done()) return conn_->close();
  arm_stall_timer();
  // A peer that does not read our frames is not read either: it cannot make us queue its
  // PING and SETTINGS acknowledgements, nor start streams whose answers it will not take.
  if (blocked_)
    conn_->pause_reading();
  else
    conn_->resume_reading();
}

void Http2Connection::on_drain(reactor::Connection&) {
  blocked_ = false;
  flush();
}

// The peer sends no more frames (not even WINDOW_UPDATEs): what is in flight cannot be relied
// on to finish. Close once what is queued went out.
void Http2Connection::on_peer_closed(reactor::Connection& conn) {
  conn.close();
}

void Http2Connection::on_server_stopping(reactor::Connection&) {
  session_.shutdown();
  flush();
}

void Http2Connection::on_close(reactor::Connection&, const reactor::Error&) {
  conn_ = nullptr;
  stall_timer_.reset();
  flush_turn_.reset();
  for (auto& [id, stream] : std::exchange(streams_, {})) stream->exchange->on_closed(false);
}

Http2Connection::Stream* Http2Connection::find(std::int32_t stream) {
  const auto it = streams_.find(stream);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Http2Connection::on_request(std::int32_t id, Http2Request& request, bool end_stream) {
  auto stream = std::make_unique<Stream>();
  stream->exchange = factory_();
  stream->response = std::make_unique<StreamResponse>(*this, id, request.method == "HEAD");
  Stream& s = *stream;
  streams_[id] = std::move(stream);
  const std::vector<Field> fields = views(request.fields);
  RequestHead head;
  head.protocol = "HTTP/2";
  head.method = request.method;
  head.target = request.path;
  head.authority = request.authority;
  head.fields = fields;
  head.content_length = request.content_length;
  head.has_body = !end_stream;
  head.stream = static_cast<std::uint32_t>(id);
  head.connect_protocol = request.protocol;
  s.exchange->on_request(head, *s.response);
}

void Http2Connection::on_request_body(std::int32_t id, std::span<const std::byte> bytes) {
  Stream* s = find(id);
  if (s == nullptr) return;
  s->exchange->on_body(bytes);
  if ((s = find(id)) != nullptr) s->response->took(bytes.size());
}

void Http2Connection::on_request_end(std::int32_t id, const Fields& trailers) {
  if (Stream* s = find(id)) s->exchange->on_body_end(views(trailers));
}

void Http2Connection::on_stream_writable(std::int32_t id) {
  if (Stream* s = find(id)) s->exchange->on_writable();
}

void Http2Connection::on_stream_closed(std::int32_t id, std::uint32_t error_code) {
  const auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const std::unique_ptr<Stream> stream = std::move(it->second);
  streams_.erase(it);
  stream->exchange->on_closed(error_code == NGHTTP2_NO_ERROR);
}

}  // namespace apps::http
