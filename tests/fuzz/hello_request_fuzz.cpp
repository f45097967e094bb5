// Harness: tlsreactor-hello's HTTP/1.1 request path, Http1Connection running hello's Exchanges
// (parser, routes, keep-alive, pipelining, request bodies, POST /echo, backpressure) over an
// in-memory connection. Input: 4 bytes of plan, then the bytes a client sends.
// Properties: no crash, leak or hang; after write() reports a full queue the handler writes at
// most a response head's worth until on_drain (an echo does not grow the queue with the body);
// the output is a well-formed sequence of HTTP responses; and what those responses say (status,
// headers but Date, body bytes) is the same whether the input arrives whole or in the plan's
// pieces, with the peer reading only when the queue is full and, by the plan, half-closing.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "apps/hello/HelloExchange.hpp"
#include "apps/http/HttpParser.hpp"
#include "reactor/Loop.hpp"
#include "tests/fuzz/FakeConnection.hpp"
#include "tests/fuzz/FuzzInput.hpp"

namespace {

using apps::http::HttpEvents;
using apps::http::HttpParser;
using apps::http::StartLine;

constexpr std::size_t high_water = 16 * 1024;
constexpr std::size_t max_output = 2 << 20;  // a client of /bytes/1099511627776 stops reading
// A response head and its small body, or "100 Continue" and the echo's head.
constexpr std::size_t max_written_while_full = 2048;

reactor::Loop& loop() {
  static reactor::Loop instance;
  return instance;
}

// The methods of the requests in `input`, in order, as the handler's own parser sees them.
std::vector<std::string> request_methods(std::string_view input) {
  struct Methods final : HttpEvents {
    std::vector<std::string> list;
    void on_start_line(const StartLine& line) override { list.emplace_back(line.method); }
  } events;
  std::optional<HttpParser> parser;
  parser.emplace(HttpParser::Type::request, events, HttpParser::Limits{16 * 1024, 100});
  while (!input.empty()) {
    const auto result = parser->feed(input);
    input.remove_prefix(result.consumed);
    if (result.status == HttpParser::Status::failed) break;
    if (result.status == HttpParser::Status::upgraded) {  // hello declines and parses on afresh
      parser.emplace(HttpParser::Type::request, events, HttpParser::Limits{16 * 1024, 100});
    }
  }
  return std::move(events.list);
}

// The responses in `output`, one line per event, without the Date header (it changes with the
// second) and with body pieces joined (their framing depends on how the input came).
std::string responses(std::string_view output, const std::vector<std::string>& methods) {
  struct Log final : HttpEvents {
    std::string text;
    HttpParser* parser = nullptr;
    const std::vector<std::string>* methods = nullptr;
    std::size_t next = 0;
    bool in_body = false;
    void expect_next() {
      parser->expect_response_to(next < methods->size() ? (*methods)[next] : "");
      ++next;
    }
    void on_start_line(const StartLine& line) override {
      text += "status " + std::to_string(line.status) + "\n";
    }
    void on_header(std::string_view name, std::string_view value) override {
      if (name != "Date") text += std::string(name) + ": " + std::string(value) + "\n";
    }
    void on_body(std::string_view bytes) override {
      if (!in_body) text += "body ";
      in_body = true;
      text += bytes;
    }
    void on_message_complete() override {
      text += in_body ? "\ncomplete\n" : "complete\n";
      in_body = false;
      if (text.ends_with("status 100\ncomplete\n")) return;  // the final response follows
      expect_next();
    }
  } log;
  HttpParser parser(HttpParser::Type::response, log, {64 * 1024, 100});
  log.parser = &parser;
  log.methods = &methods;
  log.expect_next();
  const auto result = parser.feed(output);
  if (result.status == HttpParser::Status::failed) {
    std::fprintf(stderr, "hello wrote a malformed response: %s\n", parser.error().reason.c_str());
    std::abort();
  }
  return log.text;
}

// Plays the client: sends `bytes` in pieces of `chunk()` while the handler reads, reads (all of
// it) only when the handler's queue is full, lets the loop admit waiting chunks, and half-closes
// at the end if `half_close`. Returns the handler's output.
template <typename Chunk>
std::string run(std::string_view bytes, Chunk chunk, bool half_close) {
  const auto handler = apps::hello::hello_factory({})();
  fuzz::FakeConnection conn(loop(), high_water);
  handler->on_open(conn);
  bool peer_closed = false;
  int stalls = 0;
  while (!conn.closing && conn.out.size() < max_output && stalls < 3) {
    const std::size_t before = conn.out.size();
    if (!conn.reading_paused && !bytes.empty()) {
      const std::size_t n = std::min(bytes.size(), chunk());
      const auto piece = bytes.substr(0, n);
      bytes.remove_prefix(n);
      handler->on_data(conn, std::as_bytes(std::span(piece.data(), piece.size())));
    } else if (conn.full) {
      if (conn.drain()) handler->on_drain(conn);
    } else if (bytes.empty() && half_close && !peer_closed) {
      peer_closed = true;
      handler->on_peer_closed(conn);
    } else {
      loop().run_once(false);  // a chunk waiting for its turn goes now
      stalls = conn.out.size() == before && !conn.full ? stalls + 1 : 0;
    }
    if (conn.written_while_full > max_written_while_full) {
      std::fprintf(stderr, "hello wrote %zu bytes while its queue was full\n",
                   conn.written_while_full);
      std::abort();
    }
  }
  handler->on_close(conn, {});
  return std::move(conn.out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  fuzz::Plan plan(in.u32());
  const std::string_view bytes = fuzz::as_text(in.rest());
  const bool half_close = (plan.next() & 1) != 0;
  const auto methods = request_methods(bytes);
  const std::string whole = responses(run(
                                          bytes, [] { return SIZE_MAX; }, half_close),
                                      methods);
  const std::string pieces = responses(run(
                                           bytes, [&plan] { return plan.chunk(); }, half_close),
                                       methods);
  fuzz::require_same(whole, pieces);
  return 0;
}

std::vector<fuzz::Seed> fuzz_seeds() {
  const auto seed = fuzz::text_seed;
  std::string big_chunks;
  for (int i = 0; i < 40; ++i) big_chunks += "3e8\r\n" + std::string(1000, 'y') + "\r\n";
  big_chunks += "0\r\n\r\n";
  return {
      seed("get", 0, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
      seed("routes", 1,
           "GET /bytes/300 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /bytes/10 HTTP/1.1\r\nHost: h\r\n\r\n"
           "GET /nope HTTP/1.1\r\nHost: h\r\n\r\nPUT / HTTP/1.1\r\nHost: h\r\n\r\n"
           "GET /files/a HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.0\r\n\r\n"),
      seed("echo-length", 2,
           "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"
           "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
      seed("echo-chunked", 3,
           "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
           "Expect: 100-continue\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: t\r\n\r\n"),
      seed("discarded-body", 1,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
           "GET /bytes/5 HTTP/1.1\r\nHost: h\r\n\r\n"),
      seed("big-stream", 2,
           "GET /bytes/100000 HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
      seed("refused", 0, "GET / HTTP/1.1\r\n\r\n"),
      seed("upgrade", 1,
           "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
           "GET /bytes/3 HTTP/1.1\r\nHost: h\r\n\r\n"),
      seed("version", 0, "GET / HTTP/2.0\r\nHost: h\r\n\r\n"),
      // Bodies past the high-water mark, in pieces: the echo must stop at a full queue.
      seed("echo-big-length", 5,
           "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 40000\r\n\r\n" +
               std::string(40000, 'x') + "GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
      seed("echo-big-chunked", 6,
           "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + big_chunks),
  };
}
