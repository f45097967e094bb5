#include "bench/tls_load/ResponseReader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

namespace bench::tls_load {

namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

void ResponseReader::reset() {
  state_ = State::head;
  head_.clear();
  length_ = -1;
  body_seen_ = 0;
  problem_.clear();
}

ResponseReader::State ResponseReader::fail(std::string problem) {
  problem_ = std::move(problem);
  return state_ = State::bad;
}

ResponseReader::State ResponseReader::feed(std::span<const char> bytes) {
  if (state_ == State::head) {
    const std::size_t before = head_.size();
    head_.append(bytes.data(), bytes.size());
    // The blank line may straddle two reads, so search from a little before the new bytes.
    const std::size_t end = head_.find("\r\n\r\n", before < 3 ? 0 : before - 3);
    if (end == std::string::npos) {
      if (head_.size() > max_head) return fail("response head over 16 KiB");
      return state_;
    }
    const std::size_t body_start = end + 4;
    const std::size_t body_bytes_here = head_.size() - body_start;
    head_.resize(end + 2);  // keep the last header's CRLF, drop the blank line and body bytes
    if (parse_head() == State::bad) return state_;
    state_ = State::body;
    return feed(bytes.last(body_bytes_here));
  }
  if (state_ == State::body) {
    body_seen_ += static_cast<std::int64_t>(bytes.size());
    if (length_ >= 0 && body_seen_ >= length_) state_ = State::complete;
  }
  return state_;
}

ResponseReader::State ResponseReader::on_close() {
  if (state_ == State::body && length_ < 0) return state_ = State::complete;
  if (state_ == State::complete || state_ == State::bad) return state_;
  return fail(state_ == State::head ? "the server closed before the response head ended"
                                    : "the server closed before Content-Length bytes arrived");
}

ResponseReader::State ResponseReader::parse_head() {
  std::string_view rest(head_);
  const std::size_t line_end = rest.find("\r\n");
  const std::string_view status_line = rest.substr(0, line_end);
  rest.remove_prefix(line_end + 2);
  // "HTTP/1.1 200 OK": only 2xx counts as a served request.
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ')
    return fail("not an HTTP/1.x status line: '" + std::string(status_line.substr(0, 40)) + "'");
  if (status_line[9] != '2') return fail("HTTP status " + std::string(status_line.substr(9, 3)));
  while (!rest.empty()) {
    const std::size_t eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (equals_ignoring_case(name, "content-length")) {
      std::int64_t n = -1;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 0)
        return fail("bad Content-Length '" + std::string(value) + "'");
      length_ = n;
    } else if (equals_ignoring_case(name, "transfer-encoding")) {
      return fail("chunked responses are not supported (serve a file with Content-Length)");
    }
  }
  return state_;
}

}  // namespace bench::tls_load
