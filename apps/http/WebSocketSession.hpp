// The server side of a WebSocket connection after the opening handshake (RFC 6455 5-7), over
// wslay's event API, without I/O: the driver feeds it the bytes it reads and writes the bytes
// it takes out. It reassembles fragmented messages, answers pings, runs the close handshake and
// fails the connection with the right status code when the client breaks the protocol:
//   1002 protocol error: unmasked frame, reserved bits or opcodes, a control frame over 125
//        bytes or fragmented, a continuation with no message to continue (or a new message
//        inside one), a close payload of one byte or with a code no endpoint may send
//   1007 a text message or a close reason that is not UTF-8 (wslay checks, strictly: no
//        overlong forms, no surrogates, nothing above U+10FFFF; the unit tests pin it)
//   1009 a message longer than Options::max_message_bytes (judged from its frame header when
//        the first payload byte arrives, before the payload is buffered)
// A close from the peer is answered with the same code (RFC 6455 5.5.1), or with an empty close
// when it had none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "apps/http/WebSocketFrameGate.hpp"

struct wslay_event_context;

namespace apps::http {

// Close codes (RFC 6455 7.4.1) the session sends or reports.
namespace ws_close {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t no_status = 1005;  // reported only: the close carried no code
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t internal_error = 1011;
}  // namespace ws_close

// Thread-safety: none; one per connection, used on its loop thread. Backpressure is the
// driver's: the session keeps no output queue of its own (take_output() moves everything out),
// so a driver whose transport refuses more stops feeding until it drains, and the session
// produces nothing meanwhile.
class WebSocketSession {
 public:
  enum class Opcode : std::uint8_t { text = 0x1, binary = 0x2 };

  struct Options {
    // The largest message (all its fragments together) accepted; a longer one fails the
    // connection with 1009. The session buffers a message whole, so this bounds its memory.
    std::size_t max_message_bytes = 1024 * 1024;
  };

  // Called from inside feed() on the caller's thread. Payload views are valid only during the
  // call. A handler may call send() and close() from them, not feed().
  class Events {
   public:
    // A whole message (fragments joined); text is valid UTF-8.
    virtual void on_message(Opcode opcode, std::span<const std::byte> payload) = 0;
    // The peer's close frame: its code (ws_close::no_status when it had none) and reason
    // (valid UTF-8). The reply is queued already; no message follows.
    virtual void on_peer_close(std::uint16_t code, std::string_view reason) {
      (void)code;
      (void)reason;
    }

   protected:
    ~Events() = default;
  };

  // Where the connection is. The driver reads while the state is not `closed`, writes every
  // byte take_output() gives, and once `closed` and the output is written, closes the transport.
  enum class State {
    open,     // messages flow both ways
    closing,  // we sent a close (close()) and read on until the peer's close answers it
    closed,   // the close handshake is over, or the connection failed: nothing more is read
  };

  WebSocketSession(Events& events, Options options);
  ~WebSocketSession();
  WebSocketSession(const WebSocketSession&) = delete;
  WebSocketSession& operator=(const WebSocketSession&) = delete;

  // Bytes from the peer, in order, any split. Runs the events for every message they complete
  // and serializes the answers (pongs, the close reply, what the events send) in the order of
  // the frames they answer. Input once `closed` is ignored. Rethrows an exception an event
  // threw, after failing the connection with 1011 (internal error).
  void feed(std::span<const std::byte> bytes);

  // Serializes a message into the output. False (nothing sent) once a close was sent.
  bool send(Opcode opcode, std::span<const std::byte> payload);

  // Starts the close handshake with `code` and a reason (at most 123 bytes of UTF-8; the
  // caller keeps it short and whole). Nothing is sent after it; the state becomes `closing`,
  // then `closed` when the peer answers. No effect once a close was sent or the state is closed.
  void close(std::uint16_t code, std::string_view reason);

  // The frame bytes produced since the last call, moved out.
  std::string take_output();

  State state() const;
  // The code of the close we sent (ws_close::no_status for an empty one); 0 before one was sent.
  std::uint16_t close_code_sent() const;

 private:
  struct Callbacks;  // the C trampolines
  friend struct Callbacks;
  struct FreeContext {
    void operator()(wslay_event_context* ctx) const noexcept;
  };

  long on_recv(std::uint8_t* buffer, std::size_t length);
  void on_message(std::uint8_t opcode, std::span<const std::byte> payload, std::uint16_t code);
  void fail(std::uint16_t code);  // sends a close with `code` and stops reading
  void flush();                   // serializes every queued frame into out_

  Events& events_;
  std::unique_ptr<wslay_event_context, FreeContext> ctx_;
  WebSocketFrameGate gate_;
  std::vector<std::byte> held_;         // input the gate has not released yet (a partial
                                        // header or control frame: at most 131 bytes)
  std::span<const std::byte> pending_;  // what on_recv releases from during feed()
  bool gate_refused_ = false;
  std::exception_ptr exception_;  // an event's, carried across wslay
  std::string out_;
};

}  // namespace apps::http
