// An incremental, streaming HTTP/1.1 parser over llhttp (compiled in strict mode), the one every
// app parses with: the proxy both ways, hello, the admin listener. It never holds a body: body
// bytes are handed out as they arrive. It holds only the head (start line and header fields),
// within limits, so that every header is delivered whole and the framing checks see the full block
// before any byte is forwarded.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apps::http {

// The first line of a message. Views are valid as HttpEvents says.
struct StartLine {
  std::string_view method;  // requests: "GET", "CONNECT", ...
  std::string_view target;  // requests: as sent ("/a?b", "host:443" for CONNECT)
  int status = 0;           // responses
  std::string_view reason;  // responses
  int http_major = 1;
  int http_minor = 1;
};

// How the body of a message is delimited, as llhttp (and our extra checks) decided it.
struct Framing {
  std::optional<std::uint64_t> content_length;  // the header's value, when present
  bool chunked = false;
  bool has_body = false;    // false for HEAD responses, 1xx/204/304 and empty requests
  bool until_eof = false;   // a response body that ends when the upstream closes
  bool keep_alive = false;  // the connection may carry another message after this one
  bool upgrade = false;     // after this message the bytes are no longer HTTP (see feed)
  bool connect = false;     // a CONNECT request, or a 2xx response to one
};

// Why parsing stopped for good. The framing of the stream is lost: answer and close.
struct HttpError {
  enum class Kind {
    malformed,         // 400: syntax llhttp refuses
    bad_framing,       // 400: ambiguous or invalid body framing (request smuggling defences)
    head_too_large,    // 431: start line plus header block over Limits::max_head_bytes
    target_too_long,   // 414: a request target that alone takes the head past that limit
    too_many_headers,  // 431: more than Limits::max_headers fields
  };
  Kind kind = Kind::malformed;
  int status = 400;          // the status to answer a client with
  std::string code;          // llhttp's errno name ("HPE_INVALID_CHUNK_SIZE") or ours
  std::string reason;        // one line for the response body and the log
  std::uint64_t offset = 0;  // position in the whole stream of the byte that failed
};

// What the parser reports. Calls arrive from inside HttpParser::feed/finish, in stream order:
// on_message_begin, then (once the head is complete and checked) on_start_line, on_header for
// each field in order, on_headers_complete, then on_body any number of times, on_trailer for
// each trailer field of a chunked body, and on_message_complete. Views are valid only during
// the call, except that those of on_start_line and on_header stay valid until
// on_headers_complete returns and those of on_trailer until on_message_complete returns: a
// driver can hand a whole head to its app without copying it. A handler may call pause() on
// the parser from any of them; it must not destroy the parser, and an exception it throws
// leaves feed() with the parser failed.
class HttpEvents {
 public:
  virtual void on_message_begin() {}
  virtual void on_start_line(const StartLine&) {}
  virtual void on_header(std::string_view /*name*/, std::string_view /*value*/) {}
  virtual void on_headers_complete(const Framing&) {}
  virtual void on_body(std::string_view /*bytes*/) {}
  virtual void on_trailer(std::string_view /*name*/, std::string_view /*value*/) {}
  virtual void on_message_complete() {}

 protected:
  ~HttpEvents() = default;
};

// Thread-safety: none; one parser per direction of a connection, used on its loop's thread.
class HttpParser {
 public:
  enum class Type { request, response };

  struct Limits {
    std::size_t max_head_bytes = 32 * 1024;
    std::size_t max_headers = 100;
  };

  enum class Status {
    ok,        // every byte consumed; feed more when it arrives
    paused,    // pause() took effect: keep the bytes after `consumed`, resume(), feed them again
    upgraded,  // the message before `consumed` switched protocols (CONNECT, 101): the bytes
               // after it belong to the tunnel; the parser takes no more input
    failed,    // see error(); the bytes before `consumed` were valid
  };
  struct Result {
    Status status = Status::ok;
    std::size_t consumed = 0;
  };

  HttpParser(Type type, HttpEvents& events, Limits limits);
  HttpParser(Type type, HttpEvents& events) : HttpParser(type, events, Limits{}) {}
  ~HttpParser();
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;

  // Parses as much of `bytes` as it can, calling the events as it goes. Body views point into
  // `bytes`. Rethrows an exception thrown by an event after marking the parser failed.
  Result feed(std::string_view bytes);

  // The peer closed: completes a response whose body runs until EOF, or fails when a message
  // was cut short (a proxy must not forward a truncated message as if it were whole).
  Result finish();

  // Stops parsing at the next event boundary (at once when called outside feed), so that a
  // slow downstream holds back the upstream: feed returns `paused` with the unconsumed rest.
  void pause();
  // Lets the next feed continue where pause stopped it.
  void resume();

  // After feed returned `upgraded` for a message whose switch did not happen (a request whose
  // Upgrade the proxy did not forward, or that the server refused): parses the bytes after it
  // as HTTP again. Does nothing unless the parser stopped at an upgrade.
  void resume_after_upgrade();

  // Response parsers only: the method of the request the next response answers. HEAD makes
  // the response bodiless whatever its headers say; CONNECT makes a 2xx response a tunnel.
  // For pipelined responses call it from on_message_complete of the previous one. 1xx
  // responses keep it for the final response that follows them.
  void expect_response_to(std::string_view method);

  const HttpError& error() const { return error_; }

 private:
  struct Llhttp;     // llhttp's state, kept out of this header
  struct Callbacks;  // the C trampolines
  friend struct Callbacks;

  static constexpr std::size_t unset = SIZE_MAX;  // a span not begun
  // A header field: [name_begin, name_end) and [value_begin, value_end), offsets from base_
  // (in place) or into fields_text_.
  struct Field {
    std::size_t name_begin = 0, name_end = 0, value_begin = 0, value_end = 0;
  };

  int on_message_begin();
  int on_url(const char* at, std::size_t length);
  int on_method(const char* at, std::size_t length);
  int on_url_complete();
  int on_status(const char* at, std::size_t length);
  // `part`: 0 the target, 1 the reason.
  int append_start_line(int part, const char* at, std::size_t length, HttpError::Kind too_long);
  // A head that lies within one input is read where it lies (no copy): spans are recorded as
  // offsets from base_, the first span's start. spill() copies what was recorded into the
  // strings below once the head runs past the input (or a value comes in pieces), and the
  // rest of that head is appended there as before.
  std::size_t offset_in_place(const char* at);
  bool record_in_place(std::size_t& begin, std::size_t& end, const char* at, std::size_t length);
  void spill();
  // One piece of the last field's name or value ([begin, end) its span), recorded or copied.
  void add_field_part(std::size_t& begin, std::size_t& end, const char* at, std::size_t length);
  std::string_view field_text(std::size_t begin, std::size_t end) const;
  int on_field_span(const char* at, std::size_t length);
  int on_field_complete();
  int on_value_span(const char* at, std::size_t length);
  int on_headers_complete();
  int on_body(const char* at, std::size_t length);
  int on_chunk_header();
  int on_message_complete();

  int fail(HttpError::Kind kind, std::string_view reason);  // records it; returns an llhttp error
  int maybe_pause();                                        // HPE_PAUSED when asked, else 0
  // Which limit a head over max_head_bytes broke: the target's while it is being read.
  HttpError::Kind too_large_kind() const;
  // False once over the limit, failing with `too_long`.
  bool count_head(const char* end, HttpError::Kind too_long = HttpError::Kind::head_too_large);
  std::optional<std::string_view> framing_problem() const;  // checks llhttp does not make
  void emit_fields(bool trailers);
  void clear_fields();  // once the event after the fields returned
  Result stop(Status status, const char* data, const char* at);

  Type type_;
  HttpEvents& events_;
  Limits limits_;
  std::unique_ptr<Llhttp> llhttp_;
  HttpError error_;
  std::optional<HttpError> pending_error_;  // ours, raised inside a callback
  std::exception_ptr exception_;            // an event's, carried across the C code

  // The head being collected (or the trailers): start line parts and fields, bounded.
  std::string target_, reason_, fields_text_;
  std::vector<Field> fields_;
  struct Span {
    std::size_t begin = unset, end = 0;
  };
  std::array<Span, 2> start_spans_{};  // in place: the target, the reason
  const char* base_ = nullptr;  // in place: where the head's first span starts, in this input
  bool in_place_ = true;
  bool in_field_name_ = false;
  bool in_target_ = false;       // requests: from message begin until the target is complete
  bool collecting_ = false;      // between message begin and headers complete, or trailers
  const char* mark_ = nullptr;   // where the head started counting in the current input
  std::size_t head_before_ = 0;  // head bytes of earlier inputs

  std::string expected_method_;  // response parsers: the request's method
  std::uint64_t stream_offset_ = 0;
  bool executing_ = false;  // inside llhttp, where a pause must wait for a callback's return
  bool pause_requested_ = false;
  bool paused_ = false;
  bool done_ = false;  // upgraded or failed: no more input
  bool done_upgraded_ = false;
};

}  // namespace apps::http
