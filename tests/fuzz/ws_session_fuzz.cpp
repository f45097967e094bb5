// Harness: the WebSocket session (apps/http/WebSocketSession over wslay, with its frame gate),
// fed what a client sends after the handshake, as an echo server. Input: 4 bytes of plan, then
// the stream. Properties: no crash, leak or hang; the same output, messages and end state
// whether the stream arrives whole or in the plan's pieces; the output is a sequence of whole,
// unmasked server frames with nothing after a close frame.
#include <cstdlib>
#include <string>
#include <vector>

#include "apps/http/WebSocketSession.hpp"
#include "tests/fuzz/FuzzInput.hpp"
#include "tests/unit/apps/WebSocketFrames.hpp"

namespace {

using apps::http::WebSocketSession;

struct Outcome {
  std::string output;
  std::vector<std::string> events;
  WebSocketSession::State state = WebSocketSession::State::open;

  bool operator==(const Outcome&) const = default;
};

class Echo final : public WebSocketSession::Events {
 public:
  Echo() : session(*this, {.max_message_bytes = 64 * 1024}) {}
  void on_message(WebSocketSession::Opcode opcode, std::span<const std::byte> payload) override {
    events.push_back(std::to_string(static_cast<int>(opcode)) + " " +
                     std::string(reinterpret_cast<const char*>(payload.data()), payload.size()));
    session.send(opcode, payload);
  }
  void on_peer_close(std::uint16_t code, std::string_view reason) override {
    events.push_back("close " + std::to_string(code) + " " + std::string(reason));
  }
  std::vector<std::string> events;
  WebSocketSession session;
};

template <typename Chunk>
Outcome run(std::span<const std::byte> stream, Chunk chunk) {
  Echo echo;
  Outcome out;
  while (!stream.empty()) {
    const std::size_t n = std::min(stream.size(), chunk());
    echo.session.feed(stream.first(n));
    out.output += echo.session.take_output();
    stream = stream.subspan(n);
  }
  out.events = std::move(echo.events);
  out.state = echo.session.state();
  return out;
}

// Whole unmasked frames, FIN set (the echo never fragments), nothing after a close.
void check_frames(std::string_view out) {
  while (!out.empty()) {
    if (out.size() < 2) std::abort();
    const auto first = static_cast<std::uint8_t>(out[0]);
    const auto second = static_cast<std::uint8_t>(out[1]);
    if ((first & 0xf0) != 0x80 || (second & 0x80) != 0) std::abort();
    std::uint64_t length = second & 0x7f;
    std::size_t header = 2;
    if (length >= 126) {
      const std::size_t extended = length == 126 ? 2 : 8;
      if (out.size() < 2 + extended) std::abort();
      length = 0;
      for (std::size_t i = 0; i < extended; ++i)
        length = (length << 8) | static_cast<std::uint8_t>(out[2 + i]);
      header += extended;
    }
    if (out.size() - header < length) std::abort();
    out.remove_prefix(header + length);
    if ((first & 0x0f) == 0x8 && !out.empty()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  fuzz::Plan plan(in.u32());
  const auto stream = in.rest();
  const Outcome whole = run(stream, [] { return SIZE_MAX; });
  const Outcome pieces = run(stream, [&plan] { return plan.chunk(); });
  if (!(whole == pieces)) std::abort();
  check_frames(whole.output);
  return 0;
}

std::vector<fuzz::Seed> fuzz_seeds() {
  using namespace ws_test;
  const auto seed = [](std::string name, std::uint32_t plan, const std::string& stream) {
    return fuzz::Seed{
        std::move(name),
        fuzz::with_plan(plan, std::as_bytes(std::span(stream.data(), stream.size())))};
  };
  return {
      seed("echo", 0,
           client(fin | op_text, "hello") + client(fin | op_binary, std::string(300, 'b'))),
      seed("fragments-ping", 1,
           client(op_text, "frag") + client(fin | op_ping, "p") +
               client(fin | op_continuation, "ment") + client(fin | op_close, close_payload(1000))),
      seed("close-reason", 2, client(fin | op_close, close_payload(1001, "caf\xc3\xa9"))),
      seed("invalid-utf8", 3, client(fin | op_text, "\xed\xa0\x80")),
      seed("unmasked", 0, encode({.first = fin | op_text, .payload = "x", .masked = false})),
      seed("long-ping", 1, client(fin | op_ping, std::string(126, 'p'))),
  };
}
