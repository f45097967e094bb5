// A small, strict, incremental HTTP/1.1 request parser (RFC 9112): the request line and the
// header fields. A request body is framed by Content-Length and skipped, never kept; any other
// framing (Transfer-Encoding) is refused, because guessing at framing is how request smuggling
// starts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace apps::hello {

struct Request {
  std::string method;
  std::string target;      // origin-form as sent: "/bytes/10?x=1"
  int minor_version = 1;   // HTTP/1.<minor_version>, 0 or 1
  bool keep_alive = true;  // the version's default, overridden by Connection
  std::uint64_t content_length = 0;
};

// Why a request was refused: the status to answer with and a short reason for the body.
// Framing is lost after an error, so the connection must close after answering.
struct ParseError {
  int status = 400;
  std::string_view reason;
};

// Decimal digits only (no sign, no spaces), as Content-Length wants them; false on overflow.
bool parse_decimal(std::string_view digits, std::uint64_t& value);

// Thread-safety: none; one parser per connection.
class RequestParser {
 public:
  // Request line plus header fields, including their line ends.
  static constexpr std::size_t max_head_bytes = 16 * 1024;

  enum class Status { need_more, done, failed };

  // Parses from the start of `input`, which must hold the bytes not yet consumed by earlier
  // calls (the caller keeps unconsumed bytes and appends what arrives). Sets `consumed` to how
  // many leading bytes of `input` the caller may drop: on `done` the request's head (request()
  // is then valid until the next call), on `need_more` only skipped body bytes; lines of a
  // partial head are checked once as they arrive and kept by the caller until the head is
  // complete. After `failed` (see error()) the parser must not be used again.
  Status parse(std::string_view input, std::size_t& consumed);

  const Request& request() const { return request_; }
  const ParseError& error() const { return error_; }

 private:
  bool reject(int status, std::string_view reason);  // records error_; returns false
  bool request_line(std::string_view line);
  bool header_line(std::string_view line);
  bool finish_head();

  Request request_;
  ParseError error_;
  std::uint64_t body_left_ = 0;  // of the previous request, still to skip
  std::size_t line_start_ = 0;   // in the current head: the first line not yet parsed
  bool have_request_line_ = false;
  bool have_host_ = false;
  bool have_length_ = false;
  bool asks_close_ = false;
  bool asks_keep_alive_ = false;
};

}  // namespace apps::hello
