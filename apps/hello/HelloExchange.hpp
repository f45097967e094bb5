// tlsreactor-hello's request handling, written once as an apps::http::Exchange: the same routes
// run over HTTP/1.1 (Http1Connection) and over HTTP/2 (Http2Connection), and over plain TCP or
// TLS alike. Framing, keep-alive, 100-continue, HEAD and the parser's refusals are the
// drivers' (see Http1Connection.hpp).
//
// Routes (a table in HelloExchange.cpp; HEAD has GET's headers and no body):
//   /            GET, HEAD, POST: 200 text/plain "hello from tlsreactor\n" (a POST's body is read
//                and discarded).
//   /bytes/N     GET, HEAD: 200 application/octet-stream, N bytes (0 <= N <= 1 TiB) of the
//                pattern in BodySource.hpp, produced 256 KiB at a time as the connection (or
//                the HTTP/2 stream's window) takes them: memory does not grow with N.
//   /files/PATH  GET, HEAD: 200 application/octet-stream, a regular file under the --root
//                directory, streamed the same way (only when a root is configured). PATH
//                segments use only [A-Za-z0-9._-], none starts with '.', so ".." and hidden
//                files are refused (400); a symlink that leads outside the root is 404.
//   /echo        POST: 200 application/octet-stream whose body is the request body, sent back
//                as it arrives: with Content-Length N when the request had Content-Length N,
//                else chunked (HTTP/1.1) or in DATA frames (HTTP/2). When the response side
//                says stop, the request body is paused until it says go (on_writable), so a
//                peer that sends without reading holds the server to its buffers' high marks.
//   /ws          GET: over HTTP/1.1 a WebSocket handshake (Upgrade) gets its 101 and the
//                connection goes to WebSocketEcho (Response::switch_protocols); a plain GET,
//                and any GET /ws over HTTP/2 (no RFC 8441 here), gets 426; a bad handshake
//                its 400/426 and the connection closes.
//   other paths  404; a method a route does not list gets 405 with its "Allow".
// A request body on any other route is read and discarded, never kept. Responses are given
// when the request is complete (/echo's head when its head is).
#pragma once

#include <filesystem>

#include "apps/hello/WebSocketEcho.hpp"
#include "apps/http/Exchange.hpp"
#include "reactor/Handler.hpp"

namespace apps::hello {

struct HelloOptions {
  // Directory served under /files/; empty: no file route. Must be canonical (absolute, no
  // symlinks; std::filesystem::canonical), so that resolved file paths can be checked against it.
  std::filesystem::path root;
  // /ws: the WebSocket echo's limits (--max-message-bytes).
  WebSocketEchoOptions websocket;
};

// Makes hello's Exchanges. Thread-safe (a Server calls it from every loop); Exchanges share only
// the immutable options, which the factory keeps alive.
http::ExchangeFactory hello_exchanges(const HelloOptions& options);

// One HTTP/1.1 connection handler (Http1Connection) per connection, running hello_exchanges:
// what a listener without HTTP/2 uses, and what the hello-request fuzzer drives.
reactor::HandlerFactory hello_factory(const HelloOptions& options);

}  // namespace apps::hello
