#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "apps/http/WebSocketSession.hpp"
#include "tests/unit/apps/WebSocketFrames.hpp"

namespace {

using apps::http::WebSocketSession;
using State = WebSocketSession::State;
using namespace ws_test;

std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// An echo server in memory: every message goes back with its opcode, and each event is logged
// as one line.
class Echo final : public WebSocketSession::Events {
 public:
  explicit Echo(WebSocketSession::Options options = {}) : session(*this, options) {}

  void on_message(WebSocketSession::Opcode opcode, std::span<const std::byte> payload) override {
    const std::string text(reinterpret_cast<const char*>(payload.data()), payload.size());
    log.push_back((opcode == WebSocketSession::Opcode::text ? "text " : "binary ") +
                  std::to_string(text.size()));
    if (throw_on_message) throw std::runtime_error("event failed");
    if (echo) session.send(opcode, payload);
  }
  void on_peer_close(std::uint16_t code, std::string_view reason) override {
    log.push_back("close " + std::to_string(code) + " " + std::string(reason));
  }

  // Feeds `input` in pieces of `piece` bytes (0: all at once); returns every output byte.
  std::string feed(std::string_view input, std::size_t piece = 0) {
    if (piece == 0) piece = input.size() + 1;
    for (std::size_t i = 0; i < input.size(); i += piece)
      session.feed(bytes_of(input.substr(i, piece)));
    return session.take_output();
  }

  bool echo = true;
  bool throw_on_message = false;
  std::vector<std::string> log;
  WebSocketSession session;
};

}  // namespace

TEST_CASE("a masked text message is echoed back as one unmasked frame") {
  Echo echo;
  CHECK(echo.feed(client(fin | op_text, "Hello")) == server(op_text, "Hello"));
  CHECK(echo.log == std::vector<std::string>{"text 5"});
  CHECK(echo.session.state() == State::open);
}

TEST_CASE("messages of every length form are echoed, whatever the split of the input") {
  const std::string medium(300, 'm');   // 16-bit length
  const std::string large(70000, 'L');  // 64-bit length
  const std::string input =
      client(fin | op_binary, "") + client(fin | op_binary, medium) + client(fin | op_text, large);
  const std::string expected =
      server(op_binary, "") + server(op_binary, medium) + server(op_text, large);
  for (const std::size_t piece :
       {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
    CAPTURE(piece);
    Echo echo;
    CHECK(echo.feed(input, piece) == expected);
    CHECK(echo.log == std::vector<std::string>{"binary 0", "binary 300", "text 70000"});
  }
}

TEST_CASE("a message in three fragments arrives as one message, echoed as one frame") {
  Echo echo;
  const std::string input =
      client(op_binary, "abc") + client(op_continuation, "") + client(fin | op_continuation, "de");
  CHECK(echo.feed(input, 3) == server(op_binary, "abcde"));
  CHECK(echo.log == std::vector<std::string>{"binary 5"});
}

TEST_CASE("a ping is answered with a pong carrying its payload") {
  Echo echo;
  CHECK(echo.feed(client(fin | op_ping, "are you there")) == server(op_pong, "are you there"));
  CHECK(echo.log.empty());
}

TEST_CASE(
    "a ping between the fragments of a message is answered at once, and the message still "
    "arrives whole") {
  Echo echo;
  const std::string input = client(op_text, "frag") + client(fin | op_ping, "p") +
                            client(fin | op_pong, "unsolicited") +
                            client(fin | op_continuation, "ment");
  CHECK(echo.feed(input, 5) == server(op_pong, "p") + server(op_text, "fragment"));
  CHECK(echo.log == std::vector<std::string>{"text 8"});
}

TEST_CASE(
    "replies leave in the order of the frames they answer: a message, a ping and a close in "
    "one read") {
  Echo echo;
  const std::string input = client(fin | op_text, "one") + client(fin | op_ping, "two") +
                            client(fin | op_binary, "three") +
                            client(fin | op_close, close_payload(1000, "bye"));
  CHECK(echo.feed(input) == server(op_text, "one") + server(op_pong, "two") +
                                server(op_binary, "three") + server_close(1000, "bye"));
  CHECK(echo.session.state() == State::closed);
}

TEST_CASE("a ping is answered even when a later frame in the same read fails the connection") {
  Echo echo;
  const std::string input = client(fin | op_ping, "first") + client(fin | op_text, "\xff");
  CHECK(echo.feed(input) == server(op_pong, "first") + server_close(1007));
}

TEST_CASE(
    "the peer's close is answered with its own code and reason, and nothing is read after "
    "it") {
  for (const int value : {1000, 1001, 1003, 1007, 1011, 3000, 4999}) {
    const auto code = static_cast<std::uint16_t>(value);
    CAPTURE(code);
    Echo echo;
    const std::string input = client(fin | op_close, close_payload(code, "done")) +
                              client(fin | op_text, "after the close");
    CHECK(echo.feed(input) == server_close(code, "done"));
    CHECK(echo.log == std::vector<std::string>{"close " + std::to_string(code) + " done"});
    CHECK(echo.session.state() == State::closed);
    CHECK(echo.session.close_code_sent() == code);
    CHECK(echo.feed(client(fin | op_text, "later")).empty());
  }
}

TEST_CASE("an empty close is answered with an empty close and reported as 1005") {
  Echo echo;
  CHECK(echo.feed(client(fin | op_close, "")) == server(op_close, ""));
  CHECK(echo.log == std::vector<std::string>{"close 1005 "});
  CHECK(echo.session.state() == State::closed);
}

TEST_CASE(
    "a close frame split between reads is judged whole: a reason cut inside a character is "
    "still valid UTF-8") {
  // "é" is C3 A9; the cut falls between the two bytes.
  const std::string frame = client(fin | op_close, close_payload(1000, "caf\xc3\xa9"));
  for (std::size_t cut = 1; cut < frame.size(); ++cut) {
    CAPTURE(cut);
    Echo echo;
    echo.session.feed(bytes_of(std::string_view(frame).substr(0, cut)));
    echo.session.feed(bytes_of(std::string_view(frame).substr(cut)));
    CHECK(echo.session.take_output() == server_close(1000, "caf\xc3\xa9"));
  }
}

TEST_CASE("close() sends our code, data after it is not sent, and the peer's answer closes") {
  Echo echo;
  echo.session.close(1001, "going away");
  CHECK(echo.session.take_output() == server_close(1001, "going away"));
  CHECK(echo.session.state() == State::closing);
  // A message the client sent before it saw our close is delivered but not answered.
  CHECK(echo.feed(client(fin | op_text, "late")).empty());
  CHECK(echo.log == std::vector<std::string>{"text 4"});
  CHECK(echo.session.state() == State::closing);
  CHECK(echo.feed(client(fin | op_close, close_payload(1001))).empty());
  CHECK(echo.session.state() == State::closed);
  CHECK(echo.log.back() == "close 1001 ");
  CHECK(echo.session.close_code_sent() == 1001);
}

TEST_CASE("a message longer than max_message_bytes fails with 1009 before its payload is held") {
  Echo echo({.max_message_bytes = 100});
  const std::string frame = client(fin | op_binary, std::string(101, 'x'));
  // The header (2 + 4 mask bytes) and one payload byte: the refusal must not wait for the rest.
  CHECK(echo.feed(frame.substr(0, 7)) == server_close(1009));
  CHECK(echo.session.state() == State::closed);
  CHECK(echo.log.empty());
}

TEST_CASE("a message of exactly max_message_bytes is accepted") {
  Echo echo({.max_message_bytes = 100});
  const std::string payload(100, 'x');
  CHECK(echo.feed(client(fin | op_binary, payload)) == server(op_binary, payload));
}

TEST_CASE("fragments that together pass max_message_bytes fail with 1009") {
  Echo echo({.max_message_bytes = 100});
  const std::string input =
      client(op_text, std::string(60, 'a')) + client(fin | op_continuation, std::string(41, 'b'));
  CHECK(echo.feed(input) == server_close(1009));
  CHECK(echo.log.empty());
}

TEST_CASE("text that is valid UTF-8 passes, to the last code point and split across fragments") {
  const std::vector<std::string> valid = {
      "",
      "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",  // κόσμε
      "\x7f",                                          // last one-byte
      "\xc2\x80",                                      // first two-byte
      "\xed\x9f\xbf",                                  // U+D7FF, below the surrogates
      "\xee\x80\x80",                                  // U+E000, above them
      "\xef\xbf\xbf",                                  // U+FFFF
      "\xf0\x90\x80\x80",                              // U+10000
      "\xf4\x8f\xbf\xbf",                              // U+10FFFF, the last code point
  };
  for (const auto& text : valid) {
    CAPTURE(text);
    Echo echo;
    CHECK(echo.feed(client(fin | op_text, text)) == server(op_text, text));
    // Every cut of the text into two fragments, inside characters too.
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
      Echo split;
      const std::string input =
          client(op_text, text.substr(0, cut)) + client(fin | op_continuation, text.substr(cut));
      CHECK(split.feed(input) == server(op_text, text));
    }
  }
}

TEST_CASE("text that is not strict UTF-8 fails with 1007, in a message and in a close reason") {
  const std::vector<std::string> invalid = {
      "\x80",              // a continuation byte alone
      "\xc0\x80",          // overlong NUL
      "\xc1\xbf",          // overlong two-byte
      "\xe0\x80\x80",      // overlong three-byte
      "\xe0\x9f\xbf",      // overlong: U+07FF in three bytes
      "\xf0\x80\x80\x80",  // overlong four-byte
      "\xf0\x8f\xbf\xbf",  // overlong: U+FFFF in four bytes
      "\xed\xa0\x80",      // U+D800, a surrogate
      "\xed\xbf\xbf",      // U+DFFF, a surrogate
      "\xf4\x90\x80\x80",  // U+110000, past the last code point
      "\xf5\x80\x80\x80",  // a lead byte no code point uses
      "\xff",              // never in UTF-8
      "ok\xe2\x82",        // a character cut short at the end
      "\xe2\x82"
      "A",  // a continuation expected, ASCII found
  };
  for (const auto& text : invalid) {
    CAPTURE(text);
    Echo in_message;
    CHECK(in_message.feed(client(fin | op_text, text)) == server_close(1007));
    CHECK(in_message.log.empty());
    CHECK(in_message.session.state() == State::closed);
    Echo in_reason;
    CHECK(in_reason.feed(client(fin | op_close, close_payload(1000, text))) == server_close(1007));
  }
}

TEST_CASE("binary messages are not checked as UTF-8") {
  Echo echo;
  CHECK(echo.feed(client(fin | op_binary, "\xff\xc0\x80")) == server(op_binary, "\xff\xc0\x80"));
}

TEST_CASE("frames that break RFC 6455 5.2 fail the connection with 1002") {
  const std::string long_ping(126, 'p');
  struct Case {
    const char* name;
    std::string frame;
  };
  const std::vector<Case> cases = {
      {"unmasked", encode({.first = fin | op_text, .payload = "hi", .masked = false})},
      {"rsv1", client(fin | rsv1 | op_text, "hi")},
      {"rsv2", client(fin | rsv2 | op_binary, "hi")},
      {"rsv3", client(fin | rsv3 | op_ping, "hi")},
      {"opcode 3", client(fin | 0x3, "")},
      {"opcode 7", client(fin | 0x7, "")},
      {"opcode 0xb", client(fin | 0xb, "")},
      {"opcode 0xf", client(fin | 0xf, "")},
      {"ping of 126 bytes", client(fin | op_ping, long_ping)},
      {"fragmented ping", client(op_ping, "")},
      {"fragmented close", client(op_close, "")},
      {"continuation with no message", client(fin | op_continuation, "x")},
      {"new message inside a fragmented one", client(op_text, "a") + client(fin | op_text, "b")},
      {"close with a one-byte payload", client(fin | op_close, "\x03")},
      {"16-bit length for 5 bytes",
       encode({.first = fin | op_binary, .payload = "12345", .length_form = 126})},
      {"64-bit length for 300 bytes",
       encode({.first = fin | op_binary, .payload = std::string(300, 'x'), .length_form = 127})},
      {"64-bit length with its top bit set", encode({.first = fin | op_binary,
                                                     .payload = "",
                                                     .length_form = 127,
                                                     .claimed_length = std::uint64_t{1} << 63})},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Echo echo;
    CHECK(echo.feed(c.frame) == server_close(1002));
    CHECK(echo.log.empty());
    CHECK(echo.session.state() == State::closed);
  }
}

TEST_CASE("close codes no endpoint may send fail the connection with 1002") {
  for (const int value : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    const auto code = static_cast<std::uint16_t>(value);
    CAPTURE(code);
    Echo echo;
    CHECK(echo.feed(client(fin | op_close, close_payload(code))) == server_close(1002));
    CHECK(echo.log.empty());
  }
}

TEST_CASE("frames before a protocol error are answered first, then the 1002 close") {
  Echo echo;
  const std::string input = client(fin | op_text, "fine") +
                            encode({.first = fin | op_text, .payload = "bad", .masked = false}) +
                            client(fin | op_text, "never read");
  CHECK(echo.feed(input) == server(op_text, "fine") + server_close(1002));
  CHECK(echo.log == std::vector<std::string>{"text 4"});
}

TEST_CASE("an exception from an event fails the connection with 1011 and reaches the caller") {
  Echo echo;
  echo.throw_on_message = true;
  CHECK_THROWS_AS(echo.session.feed(bytes_of(client(fin | op_text, "boom"))), std::runtime_error);
  CHECK(echo.session.take_output() == server_close(1011));
  CHECK(echo.session.state() == State::closed);
}

TEST_CASE("send() queues nothing once the close was sent") {
  Echo echo;
  CHECK(echo.session.send(WebSocketSession::Opcode::binary, bytes_of("x")));
  echo.session.close(1000, "");
  CHECK_FALSE(echo.session.send(WebSocketSession::Opcode::binary, bytes_of("y")));
  CHECK(echo.session.take_output() == server(op_binary, "x") + server_close(1000));
}
