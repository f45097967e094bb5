// Follows the frame headers of a client's WebSocket byte stream (RFC 6455 5.2) ahead of wslay,
// deciding how many bytes may go on to it. It exists for what wslay 1.1.1 gets wrong on its own:
//   - a header it refuses (a control frame over 125 bytes or fragmented, a length not in its
//     shortest form or with the top bit set) makes wslay queue a close frame with no status
//     code, where RFC 6455 7.4.1 wants 1002; and a close frame with a one-byte payload (half a
//     status code) passes as a close without one. The gate refuses these itself, so that the
//     session can answer 1002.
//   - wslay checks a close reason's UTF-8 chunk by chunk, skipping two bytes of every chunk as
//     the status code: a close frame split between reads would be judged wrongly. The gate
//     hands out a control frame only whole, and never past the end of the frame it is in, so
//     that a control frame always reaches wslay as one chunk.
// The other header checks (reserved bits, opcodes, the mask bit) wslay makes too; they are
// made here as well so that every header rule lives in one place with its close code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace apps::http {

// Thread-safety: none; one per connection. Tracks only position: the bytes stay with the
// caller, which passes the not-yet-released rest of its input each time.
class WebSocketFrameGate {
 public:
  enum class Verdict {
    release,  // `release` bytes of `pending` may go to wslay
    wait,     // a header or a control frame is incomplete: keep `pending`, add what comes next
    refuse,   // the next frame breaks RFC 6455 5.2: fail the connection with 1002
  };
  struct Decision {
    Verdict verdict = Verdict::wait;
    std::size_t release = 0;
  };

  // `pending`: the input not yet released, from the first byte after the last release.
  // `room`: the most the caller can take now (> 0). A `release` decision counts as done: the
  // caller passes on exactly that many bytes.
  Decision next(std::span<const std::byte> pending, std::size_t room);

 private:
  // Bytes of the current frame (header included) not yet released; 0 between frames.
  std::uint64_t frame_left_ = 0;
};

}  // namespace apps::http
