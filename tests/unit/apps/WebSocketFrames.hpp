// Hand-made WebSocket frames for the session's unit tests: what a client puts on the wire
// (masked, any header bits, any length form) and what the server must answer (unmasked).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ws_test {

enum : std::uint8_t {
  op_continuation = 0x0,
  op_text = 0x1,
  op_binary = 0x2,
  op_close = 0x8,
  op_ping = 0x9,
  op_pong = 0xa,
  fin = 0x80,
  rsv1 = 0x40,
  rsv2 = 0x20,
  rsv3 = 0x10,
};

struct ClientFrame {
  std::uint8_t first = fin | op_text;  // FIN, RSV1-3 and opcode, as on the wire
  std::string payload;
  bool masked = true;
  // The length's form: 0 picks the shortest; 126 or 127 force the 16- or 64-bit form.
  int length_form = 0;
  std::array<std::uint8_t, 4> mask{0x37, 0xfa, 0x21, 0x3d};  // RFC 6455 5.7's example key
  // Overrides the 64-bit length field (to set its top bit); 0: the payload's length.
  std::uint64_t claimed_length = 0;
};

inline std::string encode(const ClientFrame& f) {
  std::string out;
  out += static_cast<char>(f.first);
  const std::uint64_t length = f.claimed_length != 0 ? f.claimed_length : f.payload.size();
  const std::uint8_t mask_bit = f.masked ? 0x80 : 0;
  const int form = f.length_form != 0 ? f.length_form
                   : length < 126     ? 0
                   : length <= 0xffff ? 126
                                      : 127;
  if (form == 0) {
    out += static_cast<char>(mask_bit | length);
  } else {
    out += static_cast<char>(mask_bit | form);
    for (int shift = form == 126 ? 8 : 56; shift >= 0; shift -= 8)
      out += static_cast<char>((length >> shift) & 0xff);
  }
  if (f.masked) {
    for (auto b : f.mask) out += static_cast<char>(b);
  }
  for (std::size_t i = 0; i < f.payload.size(); ++i)
    out +=
        static_cast<char>(static_cast<std::uint8_t>(f.payload[i]) ^ (f.masked ? f.mask[i % 4] : 0));
  return out;
}

// A whole client message in one masked frame.
inline std::string client(std::uint8_t first, std::string_view payload) {
  return encode({first, std::string(payload)});
}

// A close payload: the code in network order, then the reason.
inline std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string out;
  out += static_cast<char>(code >> 8);
  out += static_cast<char>(code & 0xff);
  out += reason;
  return out;
}

// What the server sends: one unmasked final frame.
inline std::string server(std::uint8_t opcode, std::string_view payload) {
  std::string out;
  out += static_cast<char>(fin | opcode);
  if (payload.size() < 126) {
    out += static_cast<char>(payload.size());
  } else if (payload.size() <= 0xffff) {
    out += static_cast<char>(126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xff);
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8)
      out += static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> shift) & 0xff);
  }
  out += payload;
  return out;
}

inline std::string server_close(std::uint16_t code, std::string_view reason = {}) {
  return server(op_close, close_payload(code, reason));
}

}  // namespace ws_test
