#include "apps/http/HttpParser.hpp"

#include <llhttp.h>

#include <utility>

#include "apps/http/Fields.hpp"

namespace apps::http {

struct HttpParser::Llhttp {
  llhttp_t parser{};
};

namespace {

// RFC 9110 5.5: a field value excludes the whitespace around it; llhttp drops only the leading.
std::string_view trim_trailing_ows(std::string_view value) {
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  return value;
}

HttpError::Kind kind_of(llhttp_errno_t error) {
  switch (error) {
    case HPE_UNEXPECTED_CONTENT_LENGTH:
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_INVALID_TRANSFER_ENCODING:
    case HPE_INVALID_CHUNK_SIZE:
      return HttpError::Kind::bad_framing;
    default:
      return HttpError::Kind::malformed;
  }
}

}  // namespace

// Every trampoline recovers the parser from llhttp's `data` and catches what an event throws,
// because no exception may unwind through llhttp's C frames; feed() rethrows it.
struct HttpParser::Callbacks {
  template <auto Member, typename... Args>
  static int call(llhttp_t* p, Args... args) noexcept {
    auto& self = *static_cast<HttpParser*>(p->data);
    try {
      return (self.*Member)(args...);
    } catch (...) {
      self.exception_ = std::current_exception();
      return HPE_USER;
    }
  }
  static int message_begin(llhttp_t* p) noexcept { return call<&HttpParser::on_message_begin>(p); }
  static int url(llhttp_t* p, const char* at, size_t length) noexcept {
    return call<&HttpParser::on_url>(p, at, length);
  }
  static int url_complete(llhttp_t* p) noexcept { return call<&HttpParser::on_url_complete>(p); }
  static int method(llhttp_t* p, const char* at, size_t length) noexcept {
    return call<&HttpParser::on_method>(p, at, length);
  }
  static int status(llhttp_t* p, const char* at, size_t length) noexcept {
    return call<&HttpParser::on_status>(p, at, length);
  }
  static int field(llhttp_t* p, const char* at, size_t length) noexcept {
    return call<&HttpParser::on_field_span>(p, at, length);
  }
  static int field_complete(llhttp_t* p) noexcept {
    return call<&HttpParser::on_field_complete>(p);
  }
  static int value(llhttp_t* p, const char* at, size_t length) noexcept {
    return call<&HttpParser::on_value_span>(p, at, length);
  }
  static int headers_complete(llhttp_t* p) noexcept {
    return call<&HttpParser::on_headers_complete>(p);
  }
  static int body(llhttp_t* p, const char* at, size_t length) noexcept {
    return call<&HttpParser::on_body>(p, at, length);
  }
  static int chunk_header(llhttp_t* p) noexcept { return call<&HttpParser::on_chunk_header>(p); }
  static int message_complete(llhttp_t* p) noexcept {
    return call<&HttpParser::on_message_complete>(p);
  }

  static llhttp_settings_t make_settings() {
    llhttp_settings_t settings;
    llhttp_settings_init(&settings);
    settings.on_message_begin = message_begin;
    settings.on_url = url;
    settings.on_url_complete = url_complete;
    settings.on_method = method;
    settings.on_status = status;
    settings.on_header_field = field;
    settings.on_header_field_complete = field_complete;
    settings.on_header_value = value;
    settings.on_headers_complete = headers_complete;
    settings.on_body = body;
    settings.on_chunk_header = chunk_header;
    settings.on_message_complete = message_complete;
    return settings;
  }
};

HttpParser::HttpParser(Type type, HttpEvents& events, Limits limits)
    : type_(type), events_(events), limits_(limits), llhttp_(std::make_unique<Llhttp>()) {
  // llhttp keeps a pointer to its settings for the parser's whole life: one immutable copy.
  static const llhttp_settings_t settings = Callbacks::make_settings();
  llhttp_init(&llhttp_->parser, type == Type::request ? HTTP_REQUEST : HTTP_RESPONSE, &settings);
  llhttp_->parser.data = this;
}

HttpParser::~HttpParser() = default;

HttpParser::Result HttpParser::feed(std::string_view bytes) {
  if (done_) {
    return {done_upgraded_ ? Status::upgraded : Status::failed, 0};
  }
  if (paused_) {
    return {Status::paused, 0};
  }
  if (bytes.empty()) {
    return {};  // llhttp reads an empty input as nothing, but there is nothing to report either
  }
  const char* data = bytes.data();
  // A head that spans inputs keeps counting from the start of this one.
  mark_ = collecting_ ? data : nullptr;
  executing_ = true;
  const llhttp_errno_t result = llhttp_execute(&llhttp_->parser, data, bytes.size());
  executing_ = false;
  const char* at = result == HPE_OK ? data + bytes.size() : llhttp_get_error_pos(&llhttp_->parser);
  if (result == HPE_OK && collecting_ && !count_head(at, too_large_kind())) {
    return stop(Status::failed, data, at);
  }
  if (collecting_ && mark_ != nullptr) {
    head_before_ += static_cast<std::size_t>(at - mark_);
  }
  if (collecting_ && in_place_) {
    spill();  // the head goes on in the next input, and this one's bytes are the caller's
  }
  switch (result) {
    case HPE_OK:
      return stop(Status::ok, data, at);
    case HPE_PAUSED:
      return stop(Status::paused, data, at);
    case HPE_PAUSED_UPGRADE:
      return stop(Status::upgraded, data, at);
    default:
      // llhttp stopped at a bad byte without reporting the span it was in. If the head (counted
      // up to that byte just above) had already outgrown its limit, the limit is the first
      // problem in the stream, as it is when the same bytes arrive in pieces.
      if (!pending_error_ && collecting_ && head_before_ > limits_.max_head_bytes) {
        fail(too_large_kind(), "header block too large");
      }
      if (!pending_error_) {
        const auto error = static_cast<llhttp_errno_t>(result);
        pending_error_ = HttpError{kind_of(error), 400, llhttp_errno_name(error),
                                   llhttp_get_error_reason(&llhttp_->parser), 0};
      }
      return stop(Status::failed, data, at);
  }
}

HttpParser::Result HttpParser::finish() {
  if (done_ || paused_) {
    return {done_ ? (done_upgraded_ ? Status::upgraded : Status::failed) : Status::paused, 0};
  }
  executing_ = true;
  const llhttp_errno_t result = llhttp_finish(&llhttp_->parser);
  executing_ = false;
  if (result == HPE_OK) {
    return {};
  }
  if (!pending_error_) {
    pending_error_ = HttpError{HttpError::Kind::malformed, 400, llhttp_errno_name(result),
                               "connection closed in the middle of a message", 0};
  }
  return stop(Status::failed, nullptr, nullptr);
}

HttpParser::Result HttpParser::stop(Status status, const char* data, const char* at) {
  const auto consumed = static_cast<std::size_t>(at - data);
  if (status == Status::failed) {
    error_ = std::move(*pending_error_);
    error_.offset = stream_offset_ + consumed;
    done_ = true;
  }
  stream_offset_ += consumed;
  if (status == Status::paused) {
    paused_ = true;
  }
  if (status == Status::upgraded) {
    done_ = done_upgraded_ = true;
  }
  if (exception_) {
    done_ = true;
    done_upgraded_ = false;
    std::rethrow_exception(std::exchange(exception_, nullptr));
  }
  return {status, consumed};
}

void HttpParser::resume_after_upgrade() {
  if (!done_upgraded_) {
    return;
  }
  done_ = done_upgraded_ = false;
  llhttp_resume_after_upgrade(&llhttp_->parser);
}

void HttpParser::pause() {
  // Inside a callback llhttp only honours HPE_PAUSED as a return value, so the request waits
  // for the trampoline; outside one the next feed sees it.
  if (executing_) {
    pause_requested_ = true;
  } else {
    paused_ = true;
  }
}

void HttpParser::resume() {
  if (!paused_ && !pause_requested_) {
    return;  // the usual case for a caller that resumes before every feed: nothing to undo
  }
  pause_requested_ = false;
  paused_ = false;
  llhttp_resume(&llhttp_->parser);
}

void HttpParser::expect_response_to(std::string_view method) {
  expected_method_ = method;
}

int HttpParser::maybe_pause() {
  if (!pause_requested_) {
    return HPE_OK;
  }
  pause_requested_ = false;
  return HPE_PAUSED;
}

int HttpParser::fail(HttpError::Kind kind, std::string_view reason) {
  const bool too_large =
      kind == HttpError::Kind::head_too_large || kind == HttpError::Kind::too_many_headers;
  const char* code = kind == HttpError::Kind::head_too_large     ? "head_too_large"
                     : kind == HttpError::Kind::too_many_headers ? "too_many_headers"
                     : kind == HttpError::Kind::target_too_long  ? "target_too_long"
                                                                 : "bad_framing";
  const int status = kind == HttpError::Kind::target_too_long ? 414 : too_large ? 431 : 400;
  pending_error_ = HttpError{kind, status, code, std::string(reason), 0};
  return HPE_USER;
}

bool HttpParser::count_head(const char* end, HttpError::Kind too_long) {
  if (mark_ == nullptr) {
    return true;
  }
  if (head_before_ + static_cast<std::size_t>(end - mark_) <= limits_.max_head_bytes) {
    return true;
  }
  fail(too_long, too_long == HttpError::Kind::target_too_long ? "request target too long"
                                                              : "header block too large");
  return false;
}

int HttpParser::on_message_begin() {
  target_.clear();
  reason_.clear();
  fields_text_.clear();
  fields_.clear();
  start_spans_ = {};
  in_place_ = true;
  base_ = nullptr;
  in_field_name_ = false;
  collecting_ = true;
  in_target_ = type_ == Type::request;
  mark_ = nullptr;
  head_before_ = 0;
  events_.on_message_begin();
  return maybe_pause();
}

// RFC 9112 3: a target longer than the server will parse gets 414, not 431. The URL span
// comes first in the head and llhttp reports a partial span at the end of every input, so the
// limit trips inside this span (or not) however the input is split.
int HttpParser::on_url(const char* at, std::size_t length) {
  return append_start_line(0, at, length, HttpError::Kind::target_too_long);
}

// A request's head is counted from its method: a bad byte deep in an overlong target, which
// llhttp reports without the target's span, is then still seen past the limit (414), as it
// is when the target arrives in pieces.
int HttpParser::on_method(const char* at, std::size_t length) {
  if (mark_ == nullptr) {
    mark_ = at;
  }
  return count_head(at + length) ? HPE_OK : HPE_USER;
}

int HttpParser::on_url_complete() {
  in_target_ = false;
  return HPE_OK;
}

HttpError::Kind HttpParser::too_large_kind() const {
  return in_target_ ? HttpError::Kind::target_too_long : HttpError::Kind::head_too_large;
}

int HttpParser::on_status(const char* at, std::size_t length) {
  return append_start_line(1, at, length, HttpError::Kind::head_too_large);
}

int HttpParser::append_start_line(int part, const char* at, std::size_t length,
                                  HttpError::Kind too_long) {
  if (mark_ == nullptr) {
    mark_ = at;
  }
  if (!count_head(at + length, too_long)) {
    return HPE_USER;
  }
  if (in_place_ && !record_in_place(start_spans_[static_cast<std::size_t>(part)].begin,
                                    start_spans_[static_cast<std::size_t>(part)].end, at, length)) {
    spill();
  }
  if (!in_place_) {
    (part == 0 ? target_ : reason_).append(at, length);
  }
  return HPE_OK;
}

std::size_t HttpParser::offset_in_place(const char* at) {
  if (base_ == nullptr) {
    base_ = at;
  }
  return static_cast<std::size_t>(at - base_);
}

bool HttpParser::record_in_place(std::size_t& begin, std::size_t& end, const char* at,
                                 std::size_t length) {
  const std::size_t offset = offset_in_place(at);
  if (begin == unset) {
    begin = offset;
  } else if (offset != end) {
    return false;  // a gap inside one value: an obs-fold, whose CRLF must not show
  }
  end = offset + length;
  return true;
}

void HttpParser::spill() {
  in_place_ = false;
  if (base_ == nullptr) {
    in_place_ = true;  // nothing recorded yet: the head can still start in the next input
    return;
  }
  const auto copy = [this](std::string& out, std::size_t begin, std::size_t end) {
    if (begin != unset) out.append(base_ + begin, end - begin);
  };
  copy(target_, start_spans_[0].begin, start_spans_[0].end);
  copy(reason_, start_spans_[1].begin, start_spans_[1].end);
  // In the layout the copying callbacks continue: each field's name, then its value, the last
  // field's last part at the end.
  for (Field& field : fields_) {
    const std::size_t name_begin = fields_text_.size();
    copy(fields_text_, field.name_begin, field.name_end);
    const std::size_t value_begin = fields_text_.size();
    copy(fields_text_, field.value_begin, field.value_end);
    field = {name_begin, value_begin, value_begin, fields_text_.size()};
  }
  base_ = nullptr;
}

void HttpParser::add_field_part(std::size_t& begin, std::size_t& end, const char* at,
                                std::size_t length) {
  if (in_place_ && !record_in_place(begin, end, at, length)) {
    spill();  // rewrites the fields' offsets in place: `begin` and `end` stay the last field's
  }
  if (!in_place_) {
    fields_text_.append(at, length);
    end = fields_text_.size();
  }
}

std::string_view HttpParser::field_text(std::size_t begin, std::size_t end) const {
  if (begin == unset) {
    return {};
  }
  const char* text = in_place_ ? base_ : fields_text_.data();
  return {text + begin, end - begin};
}

int HttpParser::on_field_span(const char* at, std::size_t length) {
  if (!in_field_name_) {
    fields_.push_back({in_place_ ? unset : fields_text_.size(), 0, unset, 0});
    in_field_name_ = true;
  }
  if (mark_ == nullptr) {
    mark_ = at;
  }
  if (!count_head(at + length)) {
    return HPE_USER;
  }
  add_field_part(fields_.back().name_begin, fields_.back().name_end, at, length);
  return HPE_OK;
}

int HttpParser::on_field_complete() {
  in_field_name_ = false;
  // Counted once the name is whole, not at its first byte: whether a name broken off by a bad
  // byte counts must not depend on how the input was split (the http-request fuzzer).
  if (fields_.size() > limits_.max_headers) {
    return fail(HttpError::Kind::too_many_headers, "too many header fields");
  }
  if (!in_place_) {
    fields_.back().value_begin = fields_.back().value_end = fields_text_.size();
  }
  return HPE_OK;
}

int HttpParser::on_value_span(const char* at, std::size_t length) {
  if (!count_head(at + length)) {
    return HPE_USER;
  }
  add_field_part(fields_.back().value_begin, fields_.back().value_end, at, length);
  return HPE_OK;
}

std::optional<std::string_view> HttpParser::framing_problem() const {
  const auto& p = llhttp_->parser;
  // RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message means its framing is faulty;
  // an HTTP/1.0 hop after us would frame it by Content-Length or by the close instead.
  if ((p.flags & F_TRANSFER_ENCODING) != 0 && p.http_major == 1 && p.http_minor == 0) {
    return "Transfer-Encoding in an HTTP/1.0 message";
  }
  // The bytes after a CONNECT request's head belong to the tunnel: a body announced there
  // would reach the destination as tunnel bytes (or, to a proxy that framed it, not), an
  // ambiguity a smuggler can use. Found by the http-request fuzzer.
  if (type_ == Type::request && p.method == HTTP_CONNECT &&
      ((p.flags & (F_CHUNKED | F_TRANSFER_ENCODING)) != 0 || p.content_length > 0)) {
    return "CONNECT with a body";
  }
  return std::nullopt;
}

void HttpParser::emit_fields(bool trailers) {
  for (const Field& field : fields_) {
    const auto name = field_text(field.name_begin, field.name_end);
    const auto value = trim_trailing_ows(field_text(field.value_begin, field.value_end));
    if (trailers) {
      events_.on_trailer(name, value);
    } else {
      events_.on_header(name, value);
    }
  }
}

void HttpParser::clear_fields() {
  fields_.clear();
  fields_text_.clear();
}

int HttpParser::on_headers_complete() {
  auto& p = llhttp_->parser;
  collecting_ = false;
  if (const auto problem = framing_problem()) {
    return fail(HttpError::Kind::bad_framing, *problem);
  }
  const bool response = type_ == Type::response;
  const int status = response ? llhttp_get_status_code(&p) : 0;
  const bool answers_connect = response && equals_nocase(expected_method_, "CONNECT");
  if (response) {
    // RFC 9110 6.4.1: these responses never have content, whatever Content-Length says
    // (a 304 or a HEAD response repeats the length the GET would have had).
    if (equals_nocase(expected_method_, "HEAD") || status / 100 == 1 || status == 204 ||
        status == 304) {
      p.flags |= F_SKIPBODY;
    }
    if (answers_connect && status / 100 == 2) {
      p.flags |= F_SKIPBODY;
      p.upgrade = 1;  // llhttp knows CONNECT only from the request line; this side has none
    }
    if (status / 100 != 1) {
      // A final response answers the request; the next one answers the next request.
      expected_method_.clear();
    }
  }

  StartLine line;
  if (!response) {
    line.method = llhttp_method_name(static_cast<llhttp_method_t>(p.method));
    line.target = in_place_ ? field_text(start_spans_[0].begin, start_spans_[0].end)
                            : std::string_view(target_);
  }
  line.status = status;
  line.reason = in_place_ ? field_text(start_spans_[1].begin, start_spans_[1].end)
                          : std::string_view(reason_);
  line.http_major = p.http_major;
  line.http_minor = p.http_minor;
  events_.on_start_line(line);
  emit_fields(false);

  Framing framing;
  if ((p.flags & F_CONTENT_LENGTH) != 0) {
    framing.content_length = p.content_length;
  }
  framing.chunked = (p.flags & F_CHUNKED) != 0;
  const bool skip = (p.flags & F_SKIPBODY) != 0;
  // Only a response can run until EOF (RFC 9112 6.3); llhttp says no for every request.
  framing.until_eof = response && !skip && llhttp_message_needs_eof(&p) != 0;
  framing.has_body = !skip && (framing.chunked || framing.until_eof || p.content_length > 0);
  // For a request, llhttp_should_keep_alive's own first half (its second, whether the message
  // runs until EOF, is no for every request), without two calls on every request's path.
  const bool version_keeps_alive = p.http_major > 0 && p.http_minor > 0;
  framing.keep_alive = response              ? llhttp_should_keep_alive(&p) != 0
                       : version_keeps_alive ? (p.flags & F_CONNECTION_CLOSE) == 0
                                             : (p.flags & F_CONNECTION_KEEP_ALIVE) != 0;
  framing.upgrade = p.upgrade != 0;
  framing.connect = response ? answers_connect && status / 100 == 2 : p.method == HTTP_CONNECT;
  events_.on_headers_complete(framing);
  clear_fields();  // after the event: the views it was given stay valid until it returns
  // A message without a body completes right here, with no further input: a pause now would
  // hold its on_message_complete back until more bytes arrive (maybe never). It waits for
  // that event instead.
  return framing.has_body ? maybe_pause() : HPE_OK;
}

int HttpParser::on_body(const char* at, std::size_t length) {
  events_.on_body({at, length});
  // The same for the last bytes of a Content-Length body (llhttp has counted them off
  // already): on_message_complete follows at once, and the pause waits for it. Found by the
  // http-request fuzzer (tests/fuzz/regressions/http-request).
  const llhttp_t& p = llhttp_->parser;
  const bool last_of_length = (p.flags & F_CHUNKED) == 0 && p.content_length == 0;
  return last_of_length ? HPE_OK : maybe_pause();
}

int HttpParser::on_chunk_header() {
  // The last chunk may be followed by trailer fields: collect them under the same limits.
  if (llhttp_->parser.content_length == 0) {
    collecting_ = true;
    in_place_ = true;
    start_spans_ = {};  // the head's: spill() must not copy them from this input (fuzzer)
    base_ = nullptr;
    mark_ = nullptr;
    head_before_ = 0;
  }
  return maybe_pause();
}

int HttpParser::on_message_complete() {
  collecting_ = false;
  emit_fields(true);
  events_.on_message_complete();
  clear_fields();
  // A message that switches protocols (CONNECT, Upgrade) stops the parser by itself: a pause
  // here would hide that from feed()'s result, and no later input could reveal it.
  if (llhttp_->parser.upgrade != 0) {
    pause_requested_ = false;
    return HPE_OK;
  }
  return maybe_pause();
}

}  // namespace apps::http
