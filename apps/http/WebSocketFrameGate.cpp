#include "apps/http/WebSocketFrameGate.hpp"

#include <algorithm>

namespace apps::http {

namespace {

constexpr std::uint64_t max_control_payload = 125;

std::uint8_t byte_at(std::span<const std::byte> bytes, std::size_t i) {
  return std::to_integer<std::uint8_t>(bytes[i]);
}

}  // namespace

WebSocketFrameGate::Decision WebSocketFrameGate::next(std::span<const std::byte> pending,
                                                      std::size_t room) {
  if (pending.empty()) return {Verdict::wait, 0};
  if (frame_left_ > 0) {  // inside a frame whose header passed: its bytes flow as they come
    const auto release =
        std::min<std::uint64_t>({frame_left_, static_cast<std::uint64_t>(pending.size()), room});
    frame_left_ -= release;
    return {Verdict::release, static_cast<std::size_t>(release)};
  }

  // A new frame: its header must be whole before any of it is released.
  if (pending.size() < 2) return {Verdict::wait, 0};
  const std::uint8_t first = byte_at(pending, 0);
  const std::uint8_t second = byte_at(pending, 1);
  const bool fin = (first & 0x80) != 0;
  const std::uint8_t opcode = first & 0x0f;
  const bool control = (opcode & 0x08) != 0;
  const bool known_opcode = opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
  // No extension is ever negotiated, so every reserved bit must be clear (5.2); a client must
  // mask every frame (5.1).
  if ((first & 0x70) != 0 || !known_opcode || (second & 0x80) == 0) return {Verdict::refuse, 0};

  std::uint64_t payload = second & 0x7f;
  std::size_t header = 2;
  if (payload == 126 || payload == 127) {
    const std::size_t extended = payload == 126 ? 2 : 8;
    if (pending.size() < header + extended) return {Verdict::wait, 0};
    payload = 0;
    for (std::size_t i = 0; i < extended; ++i) payload = (payload << 8) | byte_at(pending, 2 + i);
    header += extended;
    // "The minimal number of bytes MUST be used to encode the length", and the 64-bit form's
    // most significant bit MUST be 0 (5.2).
    const bool shortest = extended == 2 ? payload >= 126 : payload > 0xffff;
    if (!shortest || (payload >> 63) != 0) return {Verdict::refuse, 0};
  }
  header += 4;  // the masking key
  // Control frames: at most 125 bytes, never fragmented (5.5); a close payload is empty or
  // starts with a two-byte code (5.5.1).
  if (control && (!fin || payload > max_control_payload || (opcode == 0x8 && payload == 1)))
    return {Verdict::refuse, 0};

  const std::uint64_t frame_length = header + payload;
  const std::uint64_t want = control ? frame_length : header;
  if (pending.size() < want) return {Verdict::wait, 0};
  // A control frame goes whole; anything else as far as the input and room allow.
  const std::uint64_t release =
      control ? frame_length
              : std::min<std::uint64_t>(
                    {frame_length, static_cast<std::uint64_t>(pending.size()), room});
  if (release > room) return {Verdict::wait, 0};
  frame_left_ = frame_length - release;
  return {Verdict::release, static_cast<std::size_t>(release)};
}

}  // namespace apps::http
