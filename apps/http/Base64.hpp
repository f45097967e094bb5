// Base64 (RFC 4648 section 4: the standard alphabet, '=' padding), for the WebSocket handshake's
// key and accept values.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace apps::http {

// `bytes` in padded base64.
std::string base64_encode(std::span<const std::byte> bytes);

// The bytes `text` encodes, or nullopt unless `text` is canonical padded base64: length a
// multiple of 4, only alphabet characters before the padding, at most two '=' at the end, and
// zero bits where the padding leaves some unused (so every byte string has one encoding only).
std::optional<std::vector<std::byte>> base64_decode(std::string_view text);

}  // namespace apps::http
