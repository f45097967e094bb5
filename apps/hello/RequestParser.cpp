#include "apps/hello/RequestParser.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace apps::hello {

namespace {

// RFC 9110 5.6.2: tchar, as a table (every request's method and header names go through it).
constexpr std::array<bool, 256> tchar = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (const char c : std::string_view("!#$%&'*+-.^_`|~"))
    table[static_cast<unsigned char>(c)] = true;
  return table;
}();

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](char c) { return tchar[static_cast<unsigned char>(c)]; });
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return (x >= 'A' && x <= 'Z' ? x + ('a' - 'A') : x) ==
           (y >= 'A' && y <= 'Z' ? y + ('a' - 'A') : y);
  });
}

// Optional whitespace (SP / HTAB) around field values and list elements.
std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

}  // namespace

bool parse_decimal(std::string_view digits, std::uint64_t& value) {
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return !digits.empty() && ec == std::errc() && end == digits.data() + digits.size();
}

bool RequestParser::reject(int status, std::string_view reason) {
  error_ = {status, reason};
  return false;
}

RequestParser::Status RequestParser::parse(std::string_view input, std::size_t& consumed) {
  consumed = 0;
  if (body_left_ > 0) {
    const auto skip = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, input.size()));
    body_left_ -= skip;
    consumed = skip;
    if (body_left_ > 0) return Status::need_more;
    input.remove_prefix(skip);
  }
  for (;;) {
    const auto nl = input.find('\n', line_start_);
    const std::size_t head_bytes = nl == std::string_view::npos ? input.size() : nl + 1;
    // A request line that alone passes the limit is a long URI (414), not a header problem.
    if (head_bytes > max_head_bytes) {
      if (have_request_line_)
        reject(431, "header block larger than 16 KiB");
      else
        reject(414, "request line larger than 16 KiB");
      return Status::failed;
    }
    if (nl == std::string_view::npos) return Status::need_more;
    if (nl == line_start_ || input[nl - 1] != '\r') {
      reject(400, "line ends with a bare LF");
      return Status::failed;
    }
    const std::string_view line = input.substr(line_start_, nl - 1 - line_start_);
    line_start_ = nl + 1;

    if (!have_request_line_) {
      if (line.empty()) continue;  // RFC 9112 2.2: ignore empty lines before a request line
      if (!request_line(line)) return Status::failed;
    } else if (!line.empty()) {
      if (!header_line(line)) return Status::failed;
    } else {
      if (!finish_head()) return Status::failed;
      consumed += line_start_;
      body_left_ = request_.content_length;
      line_start_ = 0;
      have_request_line_ = have_host_ = have_length_ = asks_close_ = asks_keep_alive_ = false;
      return Status::done;
    }
  }
}

bool RequestParser::request_line(std::string_view line) {
  request_ = Request{};
  have_request_line_ = true;
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == sp2)
    return reject(400, "request line is not METHOD TARGET VERSION");
  const auto method = line.substr(0, sp1);
  const auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const auto version = line.substr(sp2 + 1);
  if (!is_token(method)) return reject(400, "malformed method");
  if (target.empty() || target.front() != '/')
    return reject(400, "request target must be a path starting with /");
  // Visible ASCII only; this also rejects the extra spaces of "GET  / HTTP/1.1".
  if (!std::all_of(target.begin(), target.end(), [](char c) { return c > ' ' && c < 0x7f; }))
    return reject(400, "bad character in request target");
  const bool shaped = version.size() == 8 && version.starts_with("HTTP/") && version[6] == '.' &&
                      version[5] >= '0' && version[5] <= '9' && version[7] >= '0' &&
                      version[7] <= '9';
  if (!shaped) return reject(400, "malformed HTTP version");
  if (version[5] != '1' || version[7] > '1')
    return reject(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  request_.method = method;
  request_.target = target;
  request_.minor_version = version[7] - '0';
  return true;
}

bool RequestParser::header_line(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t')
    return reject(400, "obsolete header line folding");
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return reject(400, "header line without a colon");
  // No whitespace is allowed before the colon (RFC 9112 5.1): is_token rejects it.
  const auto name = line.substr(0, colon);
  if (!is_token(name)) return reject(400, "malformed header name");
  const auto value = trim(line.substr(colon + 1));
  if (std::any_of(value.begin(), value.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7f;
      }))
    return reject(400, "control character in header value");

  if (iequals(name, "host")) {
    if (have_host_) return reject(400, "more than one Host header");
    have_host_ = true;
  } else if (iequals(name, "content-length")) {
    std::uint64_t length = 0;
    if (!parse_decimal(value, length)) return reject(400, "malformed Content-Length");
    if (have_length_ && length != request_.content_length)
      return reject(400, "conflicting Content-Length headers");
    have_length_ = true;
    request_.content_length = length;
  } else if (iequals(name, "transfer-encoding")) {
    return reject(501, "Transfer-Encoding on a request is not supported");
  } else if (iequals(name, "connection")) {
    std::string_view rest = value;
    while (!rest.empty()) {
      const auto comma = std::min(rest.find(','), rest.size());
      const auto option = trim(rest.substr(0, comma));
      asks_close_ = asks_close_ || iequals(option, "close");
      asks_keep_alive_ = asks_keep_alive_ || iequals(option, "keep-alive");
      rest.remove_prefix(std::min(comma + 1, rest.size()));
    }
  }
  return true;
}

bool RequestParser::finish_head() {
  if (request_.minor_version == 1 && !have_host_)
    return reject(400, "HTTP/1.1 request without Host");
  request_.keep_alive = !asks_close_ && (request_.minor_version == 1 || asks_keep_alive_);
  return true;
}

}  // namespace apps::hello
