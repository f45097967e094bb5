// The tlsreactor-hello HTTP/1.1 responder, written only against the public Handler/Connection
// API so that the same handler runs over plain TCP and over TLS. Requests are parsed by the
// apps' shared apps::http::HttpParser (llhttp, strict), in place from each read.
//
// Routes (a table in HelloHandler.cpp; HEAD has GET's headers and no body):
//   /            GET, HEAD, POST: 200 text/plain "hello from tlsreactor\n" (a POST's body is read
//                and discarded).
//   /bytes/N     GET, HEAD: 200 application/octet-stream, N bytes (0 <= N <= 1 TiB) of the
//                pattern in BodySource.hpp, streamed in 256 KiB chunks as the connection drains:
//                memory does not grow with N. A loop writes at most 4 chunks per iteration over
//                all its connections, so a download that the peer reads as fast as it comes
//                does not hold the loop.
//   /files/PATH  GET, HEAD: 200 application/octet-stream, a regular file under the --root
//                directory, streamed the same way (only when a root is configured). PATH
//                segments use only [A-Za-z0-9._-], none starts with '.', so ".." and hidden
//                files are refused (400); a symlink that leads outside the root is 404.
//   /echo        POST: 200 application/octet-stream whose body is the request body, sent back
//                as it arrives: with Content-Length N when the request had Content-Length N,
//                chunked when the request was chunked. When write() reports a full queue the
//                request stops being parsed (and, past 64 KiB held, read) until on_drain, so a
//                peer that sends without reading holds the server to the write high-water mark
//                plus one read.
//   other paths  404; a method a route does not list gets 405 with its "Allow".
// A request body (Content-Length or chunked) on any other route is parsed and discarded, never
// kept. "Expect: 100-continue" on a request with a body gets "100 Continue" at once. A response
// is written when its request is complete (/echo's when its head is).
// Malformed requests get the parser's status (400, 414 for a target over the 16 KiB head limit,
// 431 for a larger head; 505 from hello for HTTP/2.0 or an HTTP/0.9 line, while llhttp refuses
// version numbers it does not know, such as 1.2, with 400) with a one-line reason, and the
// connection closes; so do an HTTP/1.1 request without exactly one Host and a target that is
// not a path. Keep-alive is the HTTP/1.1 default; "Connection: close" and HTTP/1.0 without
// "Connection: keep-alive" close after the response. Pipelined requests are answered in order;
// input waiting behind a response in flight pauses reading past 64 KiB. A peer that half-closes
// still gets the answers to its complete requests. On the server's drain (SIGTERM) an idle
// connection closes at once, a busy one after its response.
#pragma once

#include <filesystem>

#include "apps/hello/WebSocketEcho.hpp"
#include "reactor/Handler.hpp"

namespace apps::hello {

struct HelloOptions {
  // Directory served under /files/; empty: no file route. Must be canonical (absolute, no
  // symlinks; std::filesystem::canonical), so that resolved file paths can be checked against it.
  std::filesystem::path root;
  // /ws: the WebSocket echo's limits (--max-message-bytes).
  WebSocketEchoOptions websocket;
};

// One HelloHandler per connection. The factory is thread-safe (a Server calls it from every
// loop); handlers share only the immutable options.
reactor::HandlerFactory hello_factory(const HelloOptions& options);

}  // namespace apps::hello
