// Harness (d): the proxy's HTTP/1.1 request path: request lines, headers, bodies with
// Content-Length or chunked, pipelining, CONNECT. Input: 4 bytes of plan, then the bytes a
// client sends.
// Properties: no crash, leak or hang; the same events come out whether the stream arrives
// whole or in the plan's pieces with pauses at heads, in bodies and at message ends (what a
// slow upstream causes); a message completed with a Content-Length carried exactly that many body
// bytes; a message is never framed by both a length and chunking; failures answer 400, 414 or 431.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "apps/http/HttpParser.hpp"
#include "tests/fuzz/FuzzInput.hpp"

namespace {

using apps::http::Framing;
using apps::http::HttpEvents;
using apps::http::HttpParser;
using apps::http::StartLine;

class Events final : public HttpEvents {
 public:
  std::string log;
  HttpParser* parser = nullptr;
  fuzz::Plan* pauses = nullptr;  // pause after some body pieces when set

  void on_message_begin() override { log += "begin\n"; }
  void on_start_line(const StartLine& line) override {
    log += "start " + std::string(line.method) + " " + std::string(line.target) + " " +
           std::to_string(line.http_major) + "." + std::to_string(line.http_minor) + "\n";
  }
  void on_header(std::string_view name, std::string_view value) override {
    log += "header " + std::string(name) + ": " + std::string(value) + "\n";
  }
  void on_headers_complete(const Framing& f) override {
    if (f.chunked && f.content_length) std::abort();
    expected_ = f.has_body && !f.chunked ? f.content_length : std::nullopt;
    body_ = 0;
    log += "headers " + std::to_string(f.content_length.value_or(~0ull)) + " " +
           std::to_string(f.chunked) + std::to_string(f.has_body) + std::to_string(f.keep_alive) +
           std::to_string(f.connect) + std::to_string(f.upgrade) + "\n";
    maybe_pause();
  }
  void on_body(std::string_view bytes) override {
    body_ += bytes.size();
    if (!in_body_) log += "body ";
    in_body_ = true;
    log += bytes;
    maybe_pause();
  }
  void on_trailer(std::string_view name, std::string_view value) override {
    end_body();
    log += "trailer " + std::string(name) + ": " + std::string(value) + "\n";
  }
  void on_message_complete() override {
    if (expected_ && body_ != *expected_) std::abort();
    end_body();
    log += "complete\n";
    maybe_pause();
  }

 private:
  std::optional<std::uint64_t> expected_;
  std::uint64_t body_ = 0;
  bool in_body_ = false;

  // What a slow upstream does to the proxy: stop the parser at this event for a while.
  void maybe_pause() {
    if (pauses != nullptr && pauses->next() % 4 == 0) parser->pause();
  }

  void end_body() {
    if (in_body_) log += "\n";
    in_body_ = false;
  }
};

// Parses `bytes` in pieces of `chunk()` size, resuming after every pause; returns the log and
// the final status.
template <typename Chunk>
std::string parse(std::string_view bytes, Chunk chunk, fuzz::Plan* pauses) {
  Events events;
  events.pauses = pauses;
  HttpParser parser(HttpParser::Type::request, events, {4096, 20});
  events.parser = &parser;
  std::string carry;  // bytes a pause left unconsumed
  HttpParser::Status status = HttpParser::Status::ok;
  while (status == HttpParser::Status::ok || status == HttpParser::Status::paused) {
    if (carry.empty()) {
      if (bytes.empty()) break;
      const std::size_t n = std::min(bytes.size(), chunk());
      carry.assign(bytes.substr(0, n));
      bytes.remove_prefix(n);
    }
    const auto result = parser.feed(carry);
    status = result.status;
    carry.erase(0, result.consumed);
    if (status == HttpParser::Status::paused) {
      parser.resume();
    } else if (status == HttpParser::Status::ok && !carry.empty()) {
      std::abort();  // ok means every byte was consumed
    }
  }
  if (status == HttpParser::Status::failed) {
    const int code = parser.error().status;
    if (code != 400 && code != 414 && code != 431) std::abort();
    events.log += "failed " + std::to_string(code) + "\n";
  }
  if (status == HttpParser::Status::upgraded) events.log += "upgraded\n";
  return events.log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  fuzz::Plan plan(in.u32());
  const std::string_view bytes = fuzz::as_text(in.rest());
  const std::string whole = parse(
      bytes, [] { return SIZE_MAX; }, nullptr);
  fuzz::Plan pauses(plan.next());
  const std::string pieces = parse(
      bytes, [&plan] { return plan.chunk(); }, &pauses);
  fuzz::require_same(whole, pieces);
  return 0;
}

std::vector<fuzz::Seed> fuzz_seeds() {
  const auto seed = fuzz::text_seed;
  return {
      seed("get", 0, "GET /a?b=c HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n"),
      seed("post-length", 2,
           "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"),
      seed("post-chunked", 3,
           "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"),
      seed("pipelined", 1,
           "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\n\r\n"
           "GET /3 HTTP/1.0\r\n\r\n"),
      seed("connect", 0, "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\nTLS"),
      seed("smuggle-cl-te", 0,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
           "0\r\n\r\n"),
      seed("smuggle-double-cl", 0,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"),
      seed("bad-chunk-size", 0,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"),
      seed("expect-continue", 0,
           "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"),
  };
}
