#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "apps/http/HttpParser.hpp"

namespace {

using apps::http::Framing;
using apps::http::HttpError;
using apps::http::HttpEvents;
using apps::http::HttpParser;
using apps::http::StartLine;

// Writes every event as one line, so a whole exchange compares as a list of strings. Body
// pieces that arrive back to back are joined: how the input was split must not show.
class Recorder final : public HttpEvents {
 public:
  std::vector<std::string> log;
  std::vector<std::string> body_pieces;
  HttpParser* pause_on_body = nullptr;
  HttpParser* pause_on_complete = nullptr;
  std::string next_response_to;  // for pipelined responses, set from on_message_complete

  void on_message_begin() override { log.emplace_back("begin"); }
  void on_start_line(const StartLine& line) override {
    log.push_back("start " + std::string(line.method) + " " + std::string(line.target) + " " +
                  std::to_string(line.status) + " " + std::string(line.reason) + " HTTP/" +
                  std::to_string(line.http_major) + "." + std::to_string(line.http_minor));
  }
  void on_header(std::string_view name, std::string_view value) override {
    log.push_back("header " + std::string(name) + ": " + std::string(value));
  }
  void on_headers_complete(const Framing& f) override {
    log.push_back(
        "headers length=" +
        (f.content_length ? std::to_string(*f.content_length) : std::string("none")) +
        " chunked=" + std::to_string(f.chunked) + " body=" + std::to_string(f.has_body) +
        " eof=" + std::to_string(f.until_eof) + " keep-alive=" + std::to_string(f.keep_alive) +
        " upgrade=" + std::to_string(f.upgrade) + " connect=" + std::to_string(f.connect));
  }
  void on_body(std::string_view bytes) override {
    body_pieces.emplace_back(bytes);
    if (log.empty() || log.back().rfind("body ", 0) != 0) {
      log.emplace_back("body ");
    }
    log.back().append(bytes);
    if (pause_on_body != nullptr) {
      pause_on_body->pause();
    }
  }
  void on_trailer(std::string_view name, std::string_view value) override {
    log.push_back("trailer " + std::string(name) + ": " + std::string(value));
  }
  void on_message_complete() override {
    log.emplace_back("complete");
    if (pause_on_complete != nullptr) {
      pause_on_complete->pause();
    }
  }
};

// Feeds `input` in pieces of `step` bytes (everything at once when 0), keeping unconsumed bytes
// the way a connection would; stops at the first result that is not ok.
HttpParser::Result feed_in_steps(HttpParser& parser, std::string_view input, std::size_t step = 0) {
  HttpParser::Result result;
  while (!input.empty()) {
    const auto piece = input.substr(0, step == 0 ? input.size() : step);
    result = parser.feed(piece);
    if (result.status != HttpParser::Status::ok) {
      return result;
    }
    input.remove_prefix(piece.size());
  }
  return result;
}

std::vector<std::string> parse_requests(std::string_view input, std::size_t step) {
  Recorder events;
  HttpParser parser(HttpParser::Type::request, events);
  REQUIRE(feed_in_steps(parser, input, step).status == HttpParser::Status::ok);
  return events.log;
}

HttpError refused(HttpParser::Type type, std::string_view input) {
  Recorder events;
  HttpParser parser(type, events);
  const auto result = parser.feed(input);
  REQUIRE(result.status == HttpParser::Status::failed);
  CHECK(parser.error().offset == result.consumed);
  CHECK_FALSE(parser.error().reason.empty());
  CHECK(parser.feed("GET / HTTP/1.1\r\n\r\n").status == HttpParser::Status::failed);
  return parser.error();
}

HttpError refused_request(std::string_view input) {
  return refused(HttpParser::Type::request, input);
}

constexpr std::string_view post =
    "POST /upload?x=1 HTTP/1.1\r\n"
    "Host: example.test\r\n"
    "User-Agent: test  \r\n"
    "Content-Length: 11\r\n"
    "X-Empty:\r\n"
    "\r\n"
    "hello world";

}  // namespace

TEST_CASE("a request parsed byte by byte gives the same events as one parsed at once") {
  const auto at_once = parse_requests(post, 0);
  CHECK(at_once == std::vector<std::string>{
                       "begin", "start POST /upload?x=1 0  HTTP/1.1", "header Host: example.test",
                       "header User-Agent: test", "header Content-Length: 11", "header X-Empty: ",
                       "headers length=11 chunked=0 body=1 eof=0 keep-alive=1 upgrade=0 connect=0",
                       "body hello world", "complete"});
  CHECK(parse_requests(post, 1) == at_once);
  CHECK(parse_requests(post, 7) == at_once);
}

TEST_CASE("a chunked body streams in pieces that point into the fed bytes, trailers after it") {
  const std::string_view input =
      "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Check: 1\r\n\r\n";
  for (const std::size_t step : {0u, 1u, 3u}) {
    Recorder events;
    HttpParser parser(HttpParser::Type::request, events);
    REQUIRE(feed_in_steps(parser, input, step).status == HttpParser::Status::ok);
    CHECK(events.log ==
          std::vector<std::string>{
              "begin", "start PUT /f 0  HTTP/1.1", "header Host: a",
              "header Transfer-Encoding: chunked",
              "headers length=none chunked=1 body=1 eof=0 keep-alive=1 upgrade=0 connect=0",
              "body hello world", "trailer X-Check: 1", "complete"});
    if (step == 1) {
      CHECK(events.body_pieces.size() == 11);  // one byte at a time: nothing was held back
    }
  }
}

TEST_CASE("pipelined keep-alive requests in one input are parsed one after the other") {
  const auto log = parse_requests(
      "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"
      "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      0);
  CHECK(log == std::vector<std::string>{
                   "begin", "start GET /a 0  HTTP/1.1", "header Host: a",
                   "headers length=none chunked=0 body=0 eof=0 keep-alive=1 upgrade=0 connect=0",
                   "complete", "begin", "start POST /b 0  HTTP/1.1", "header Host: a",
                   "header Content-Length: 2",
                   "headers length=2 chunked=0 body=1 eof=0 keep-alive=1 upgrade=0 connect=0",
                   "body hi", "complete", "begin", "start GET /c 0  HTTP/1.1", "header Host: a",
                   "header Connection: close",
                   "headers length=none chunked=0 body=0 eof=0 keep-alive=0 upgrade=0 connect=0",
                   "complete"});
}

TEST_CASE("a response to HEAD has no body even with a Content-Length, and the next response does") {
  Recorder events;
  HttpParser parser(HttpParser::Type::response, events);
  parser.expect_response_to("HEAD");
  const auto result = parser.feed(
      "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
  CHECK(result.status == HttpParser::Status::ok);
  CHECK(events.log ==
        std::vector<std::string>{
            "begin", "start   200 OK HTTP/1.1", "header Content-Length: 1000",
            "headers length=1000 chunked=0 body=0 eof=0 keep-alive=1 upgrade=0 connect=0",
            "complete", "begin", "start   200 OK HTTP/1.1", "header Content-Length: 3",
            "headers length=3 chunked=0 body=1 eof=0 keep-alive=1 upgrade=0 connect=0", "body abc",
            "complete"});
}

TEST_CASE("204 and 304 responses end at their head and 1xx responses precede the final one") {
  Recorder events;
  HttpParser parser(HttpParser::Type::response, events);
  const auto result = parser.feed(
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  CHECK(result.status == HttpParser::Status::ok);
  CHECK(events.log ==
        std::vector<std::string>{
            "begin", "start   100 Continue HTTP/1.1",
            "headers length=none chunked=0 body=0 eof=0 keep-alive=1 upgrade=0 connect=0",
            "complete", "begin", "start   204 No Content HTTP/1.1",
            "headers length=none chunked=0 body=0 eof=0 keep-alive=1 upgrade=0 connect=0",
            "complete", "begin", "start   304 Not Modified HTTP/1.1", "header Content-Length: 50",
            "headers length=50 chunked=0 body=0 eof=0 keep-alive=1 upgrade=0 connect=0", "complete",
            "begin", "start   200 OK HTTP/1.1", "header Content-Length: 2",
            "headers length=2 chunked=0 body=1 eof=0 keep-alive=1 upgrade=0 connect=0", "body ok",
            "complete"});
}

TEST_CASE("a response without length runs until the connection closes") {
  Recorder events;
  HttpParser parser(HttpParser::Type::response, events);
  CHECK(parser.feed("HTTP/1.1 200 OK\r\n\r\nsome bytes").status == HttpParser::Status::ok);
  CHECK(events.log.back() == "body some bytes");
  CHECK(parser.finish().status == HttpParser::Status::ok);
  CHECK(events.log.back() == "complete");
}

TEST_CASE("a connection closed in the middle of a body is an error, not a complete message") {
  Recorder events;
  HttpParser parser(HttpParser::Type::request, events);
  CHECK(parser.feed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc").status ==
        HttpParser::Status::ok);
  CHECK(parser.finish().status == HttpParser::Status::failed);
  CHECK(parser.error().status == 400);
}

TEST_CASE("a CONNECT request is detected and the bytes after its head belong to the tunnel") {
  Recorder events;
  HttpParser parser(HttpParser::Type::request, events);
  const std::string_view head =
      "CONNECT upstream.test:443 HTTP/1.1\r\nHost: upstream.test:443\r\n\r\n";
  const auto result = parser.feed(std::string(head) + "\x16\x03\x01 tls bytes");
  CHECK(result.status == HttpParser::Status::upgraded);
  CHECK(result.consumed == head.size());
  CHECK(events.log ==
        std::vector<std::string>{
            "begin", "start CONNECT upstream.test:443 0  HTTP/1.1",
            "header Host: upstream.test:443",
            "headers length=none chunked=0 body=0 eof=0 keep-alive=1 upgrade=1 connect=1",
            "complete"});
  CHECK(parser.feed("more").status == HttpParser::Status::upgraded);
}

TEST_CASE("a 200 answer to CONNECT turns the response side into a tunnel too") {
  Recorder events;
  HttpParser parser(HttpParser::Type::response, events);
  parser.expect_response_to("CONNECT");
  const std::string_view head = "HTTP/1.1 200 Connection Established\r\n\r\n";
  const auto result = parser.feed(std::string(head) + "tunnel");
  CHECK(result.status == HttpParser::Status::upgraded);
  CHECK(result.consumed == head.size());
  CHECK(events.log.at(2) ==
        "headers length=none chunked=0 body=0 eof=0 keep-alive=1 upgrade=1 connect=1");
}

TEST_CASE("an Upgrade request stops the parser and resume_after_upgrade parses the next request") {
  Recorder events;
  HttpParser parser(HttpParser::Type::request, events);
  const std::string_view head =
      "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  const std::string_view next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  const auto result = parser.feed(std::string(head) + std::string(next));
  CHECK(result.status == HttpParser::Status::upgraded);
  CHECK(result.consumed == head.size());
  CHECK(events.log.at(5) ==
        "headers length=none chunked=0 body=0 eof=0 keep-alive=1 upgrade=1 connect=0");
  parser.resume_after_upgrade();
  CHECK(parser.feed(next).status == HttpParser::Status::ok);
  CHECK(events.log.at(8) == "start GET /next 0  HTTP/1.1");
  CHECK(events.log.back() == "complete");
}

TEST_CASE("a 101 answer switches the response side and the bytes after its head are the tunnel's") {
  Recorder events;
  HttpParser parser(HttpParser::Type::response, events);
  parser.expect_response_to("GET");
  const std::string_view head =
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  const auto result = parser.feed(std::string(head) + "\x81\x02hi");
  CHECK(result.status == HttpParser::Status::upgraded);
  CHECK(result.consumed == head.size());
  CHECK(events.log.at(4) ==
        "headers length=none chunked=0 body=0 eof=0 keep-alive=1 upgrade=1 connect=0");
}

TEST_CASE("both Content-Length and Transfer-Encoding in a request is refused as bad framing") {
  const auto error = refused_request(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  CHECK(error.kind == HttpError::Kind::bad_framing);
  CHECK(error.status == 400);
  CHECK(error.code == "HPE_UNEXPECTED_CONTENT_LENGTH");  // llhttp refuses it by itself
}

TEST_CASE("Transfer-Encoding before Content-Length is refused the same way") {
  const auto error = refused_request(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n");
  CHECK(error.kind == HttpError::Kind::bad_framing);
  CHECK(error.code == "HPE_UNEXPECTED_CONTENT_LENGTH");  // llhttp refuses it by itself
}

TEST_CASE("a duplicate Content-Length is refused even when both values agree") {
  const auto error = refused_request(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd");
  CHECK(error.kind == HttpError::Kind::bad_framing);
  CHECK(error.code == "HPE_UNEXPECTED_CONTENT_LENGTH");  // llhttp refuses it by itself
}

TEST_CASE("a Content-Length list or a signed or non-numeric length is refused") {
  for (const std::string_view length :
       {"4, 4", "+4", "-1", "0x4", "4 4", "99999999999999999999999"}) {
    CAPTURE(length);
    const auto error = refused_request(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::string(length) + "\r\n\r\nabcd");
    CHECK(error.kind == HttpError::Kind::bad_framing);
  }
}

TEST_CASE("bad chunk sizes are refused as bad framing") {
  for (const std::string_view size : {"zz", "-1", "fffffffffffffffffff", "5 5", ""}) {
    CAPTURE(size);
    const auto error =
        refused_request("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
                        std::string(size) + "\r\nhello\r\n0\r\n\r\n");
    CHECK(error.kind == HttpError::Kind::bad_framing);
    CHECK(error.code == "HPE_INVALID_CHUNK_SIZE");  // llhttp refuses it by itself
  }
}

TEST_CASE("chunked applied twice is refused whether in one field or two") {
  for (const std::string_view te : {"chunked, chunked", "chunked\r\nTransfer-Encoding: chunked"}) {
    CAPTURE(te);
    const auto error =
        refused_request("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + std::string(te) +
                        "\r\n\r\n0\r\n\r\n");
    CHECK(error.kind == HttpError::Kind::bad_framing);
    CHECK(error.code == "HPE_INVALID_TRANSFER_ENCODING");  // llhttp refuses it by itself
  }
}

TEST_CASE("a response with both Content-Length and Transfer-Encoding is refused") {
  const auto error = refused(
      HttpParser::Type::response,
      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  CHECK(error.kind == HttpError::Kind::bad_framing);
  CHECK(error.code == "HPE_UNEXPECTED_CONTENT_LENGTH");  // llhttp refuses it by itself
}

TEST_CASE("a request whose Transfer-Encoding does not end in chunked is refused") {
  const auto error =
      refused_request("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabcd");
  CHECK(error.kind == HttpError::Kind::bad_framing);
  CHECK(error.code == "HPE_INVALID_TRANSFER_ENCODING");  // llhttp refuses it by itself
}

TEST_CASE("Transfer-Encoding in an HTTP 1.0 request is refused") {
  const auto error =
      refused_request("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  CHECK(error.kind == HttpError::Kind::bad_framing);
  CHECK(error.reason == "Transfer-Encoding in an HTTP/1.0 message");
}

TEST_CASE("a bare LF line end or a space before the colon is refused as malformed") {
  CHECK(refused_request("GET / HTTP/1.1\nHost: a\n\n").kind == HttpError::Kind::malformed);
  CHECK(refused_request("GET / HTTP/1.1\r\nHost : a\r\n\r\n").kind == HttpError::Kind::malformed);
}

TEST_CASE("a header block over the size limit gives the 431 error, in one input or many") {
  const std::string big =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(40 * 1024, 'x') + "\r\n\r\n";
  for (const std::size_t step : {0u, 1000u}) {
    Recorder events;
    HttpParser parser(HttpParser::Type::request, events);
    CHECK(feed_in_steps(parser, big, step).status == HttpParser::Status::failed);
    CHECK(parser.error().kind == HttpError::Kind::head_too_large);
    CHECK(parser.error().status == 431);
    CHECK(parser.error().offset < big.size());  // refused before the head ended
  }
}

TEST_CASE("a request target that alone passes the size limit gives 414, in one input or many") {
  const std::string uri = "GET /" + std::string(40 * 1024, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
  // A bad byte inside the long target: llhttp reports no span for it, and the answer must be
  // the same however the input was split.
  const std::string broken = "GET /" + std::string(40 * 1024, 'a') + "\x01 HTTP/1.1\r\n\r\n";
  for (const std::string& request : {uri, broken}) {
    for (const std::size_t step : {0u, 1u << 10, 7u}) {
      CAPTURE(step);
      Recorder events;
      HttpParser parser(HttpParser::Type::request, events);
      CHECK(feed_in_steps(parser, request, step).status == HttpParser::Status::failed);
      CHECK(parser.error().kind == HttpError::Kind::target_too_long);
      CHECK(parser.error().status == 414);
    }
  }
  // Past the target, the same overflow is the header block's.
  Recorder events;
  HttpParser parser(HttpParser::Type::request, events,
                    {.max_head_bytes = 1024, .max_headers = 100});
  const std::string head =
      "GET /" + std::string(1000, 'a') + " HTTP/1.1\r\nHost: aaaaaaaaaa\r\n\r\n";
  CHECK(feed_in_steps(parser, head).status == HttpParser::Status::failed);
  CHECK(parser.error().status == 431);
}

TEST_CASE("a header block just under the size limit is accepted") {
  Recorder events;
  HttpParser parser(HttpParser::Type::request, events,
                    {.max_head_bytes = 1024, .max_headers = 100});
  const std::string head =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: " + std::string(900, 'x') + "\r\n\r\n";
  CHECK(feed_in_steps(parser, head, 10).status == HttpParser::Status::ok);
  CHECK(events.log.back() == "complete");
}

TEST_CASE("more header fields than the count limit gives the 431 error") {
  std::string head = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) {
    head += "X-" + std::to_string(i) + ": v\r\n";
  }
  head += "\r\n";
  Recorder events;
  HttpParser parser(HttpParser::Type::request, events);
  CHECK(parser.feed(head).status == HttpParser::Status::failed);
  CHECK(parser.error().kind == HttpError::Kind::too_many_headers);
  CHECK(parser.error().status == 431);
}

TEST_CASE("pause in a body event stops the feed there and resume continues with the rest") {
  Recorder events;
  HttpParser parser(HttpParser::Type::request, events);
  events.pause_on_body = &parser;
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\n\r\n";
  const std::string input = head + "abcdefgh";
  // Stops after the first piece of the body, in the middle of it.
  const auto first = parser.feed(std::string_view(input).substr(0, head.size() + 4));
  REQUIRE(first.status == HttpParser::Status::paused);
  CHECK(first.consumed == head.size() + 4);
  CHECK(events.log.back() == "body abcd");
  CHECK(parser.feed("efgh").status == HttpParser::Status::paused);  // still paused
  events.pause_on_body = nullptr;
  parser.resume();
  CHECK(parser.feed("efgh").status == HttpParser::Status::ok);
  CHECK(events.log.back() == "complete");
  CHECK(events.log.at(events.log.size() - 2) == "body abcdefgh");
}

TEST_CASE("a pause on the last bytes of a body takes effect once the message completed") {
  // The completion needs no further input: held back by the pause, it would wait for bytes
  // that may never come (the fuzzer's regression, tests/fuzz/regressions/http-request).
  Recorder events;
  HttpParser parser(HttpParser::Type::request, events);
  events.pause_on_body = &parser;
  const std::string input =
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd"
      "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  const auto first = parser.feed(input);
  REQUIRE(first.status == HttpParser::Status::paused);
  CHECK(input.substr(first.consumed, 4) == "GET ");
  CHECK(events.log.back() == "complete");
  CHECK(events.log.at(events.log.size() - 2) == "body abcd");
  events.pause_on_body = nullptr;
  parser.resume();
  const auto rest = parser.feed(std::string_view(input).substr(first.consumed));
  CHECK(rest.status == HttpParser::Status::ok);
  CHECK(events.log.back() == "complete");
  CHECK(events.log.at(events.log.size() - 4) == "start GET /next 0  HTTP/1.1");
}

TEST_CASE("pause at message complete holds pipelined requests back until resume") {
  Recorder events;
  HttpParser parser(HttpParser::Type::request, events);
  events.pause_on_complete = &parser;
  const std::string input = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  const auto first = parser.feed(input);
  REQUIRE(first.status == HttpParser::Status::paused);
  CHECK(first.consumed == input.size() / 2);
  CHECK(events.log.back() == "complete");
  parser.resume();
  CHECK(parser.feed(std::string_view(input).substr(first.consumed)).status ==
        HttpParser::Status::paused);
  CHECK(events.log.at(events.log.size() - 4) == "start GET /b 0  HTTP/1.1");
}

TEST_CASE("pause called between feeds makes the next feed consume nothing") {
  Recorder events;
  HttpParser parser(HttpParser::Type::request, events);
  parser.pause();
  const auto result = parser.feed("GET / HTTP/1.1\r\n\r\n");
  CHECK(result.status == HttpParser::Status::paused);
  CHECK(result.consumed == 0);
  CHECK(events.log.empty());
  parser.resume();
  CHECK(parser.feed("GET / HTTP/1.1\r\n\r\n").status == HttpParser::Status::ok);
  CHECK(events.log.back() == "complete");
}

TEST_CASE("an exception thrown by an event reaches the caller of feed and fails the parser") {
  struct Thrower final : HttpEvents {
    void on_headers_complete(const Framing&) override { throw std::runtime_error("handler broke"); }
  } events;
  HttpParser parser(HttpParser::Type::request, events);
  CHECK_THROWS_WITH(parser.feed("GET / HTTP/1.1\r\n\r\n"), "handler broke");
  CHECK(parser.feed("GET / HTTP/1.1\r\n\r\n").status == HttpParser::Status::failed);
}

TEST_CASE("a CONNECT request that announces a body is refused as bad framing") {
  // The bytes after a CONNECT head are the tunnel's: a body there would be smuggled into it.
  for (const std::string extra : {"Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n"}) {
    Recorder events;
    HttpParser parser(HttpParser::Type::request, events);
    const std::string input =
        "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n" + extra + "\r\nhello";
    CHECK(parser.feed(input).status == HttpParser::Status::failed);
    CHECK(parser.error().kind == HttpError::Kind::bad_framing);
    CHECK(parser.error().status == 400);
  }
}
