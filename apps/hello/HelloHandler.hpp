// The tlsreactor-hello HTTP/1.1 responder, written only against the public Handler/Connection
// API so that the same handler runs over plain TCP and over TLS.
//
// Routes (GET, and HEAD with the same headers and no body):
//   /            200 text/plain "hello from tlsreactor\n"
//   /bytes/N     200 application/octet-stream, N bytes (0 <= N <= 1 TiB) of the pattern below,
//                streamed in 256 KiB chunks as the connection drains: memory does not grow with N.
//                A loop writes at most 4 chunks per iteration over all its connections, so a
//                download that the peer reads as fast as it comes does not hold the loop
//   /files/PATH  200 application/octet-stream, a regular file under the --root directory, streamed
//                the same way (only when a root is configured). PATH segments use only
//                [A-Za-z0-9._-], none starts with '.', so ".." and hidden files are refused (400);
//                a symlink that leads outside the root is reported as 404.
//   other paths  404; other methods 405 with "Allow: GET, HEAD".
// Malformed requests get 400 (or 414/431/501/505) with a one-line reason and the connection
// closes. Keep-alive is the HTTP/1.1 default; "Connection: close" and HTTP/1.0 without
// "Connection: keep-alive" close after the response. Pipelined requests are answered in order;
// input waiting behind a streaming response pauses reading past 64 KiB.
#pragma once

#include <cstdint>
#include <filesystem>

#include "reactor/Handler.hpp"

namespace apps::hello {

// The body of /bytes/N: the byte at offset i (from 0) is static_cast<unsigned char>(i % 251).
// 251 is prime, so the pattern never lines up with power-of-two chunks or buffers: a chunk
// lost, repeated or reordered changes the content.
inline constexpr unsigned pattern_period = 251;
inline constexpr std::uint64_t max_pattern_bytes = std::uint64_t{1} << 40;  // 1 TiB

struct HelloOptions {
  // Directory served under /files/; empty: no file route. Must be canonical (absolute, no
  // symlinks; std::filesystem::canonical), so that resolved file paths can be checked against it.
  std::filesystem::path root;
};

// One HelloHandler per connection. The factory is thread-safe (a Server calls it from every
// loop); handlers share only the immutable options.
reactor::HandlerFactory hello_factory(const HelloOptions& options);

}  // namespace apps::hello
