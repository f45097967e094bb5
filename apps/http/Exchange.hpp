// One request and its response, the same whether it came over HTTP/1.1 or as an HTTP/2
// stream: what an app's request handling is written against, once. A connection driver
// (Http2Connection, the HTTP/1.1 one) parses requests, makes an Exchange per request from the
// app's factory, hands it a Response to answer through, and maps backpressure both ways onto
// its protocol: HTTP/2 windows per stream, HTTP/1.1 reading of the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "reactor/Handler.hpp"

namespace apps::http {

// A header or trailer field as a pair of views.
struct Field {
  std::string_view name, value;
};

// A request's head. Views are valid only during Exchange::on_request.
struct RequestHead {
  std::string_view protocol;      // "HTTP/1.0", "HTTP/1.1", "HTTP/2"
  std::string_view method;        // "GET", ...
  std::string_view target;        // origin-form: path and query ("/a?b")
  std::string_view authority;     // Host (HTTP/1.1) or :authority (HTTP/2); may be empty
  std::span<const Field> fields;  // the other fields in order (HTTP/2: lower-case names)
  std::optional<std::uint64_t> content_length;
  bool has_body = false;     // body bytes follow (on_body), or at least on_body_end does
  std::uint32_t stream = 0;  // the HTTP/2 stream id; 0 over HTTP/1.1
  // An extended CONNECT's :protocol (RFC 8441: "websocket"); empty otherwise. Only over
  // HTTP/2, and only when the driver's limits enabled it.
  std::string_view connect_protocol;
};

// How an Exchange answers. Valid from on_request until on_closed returns.
class Response {
 public:
  // The response head. `content_length`: the body's size when known (HTTP/1.1 then sends
  // Content-Length, else chunked); `has_body` false for none (204, 304, or no content). A HEAD
  // request's response is sent without its body whatever follows.
  virtual void head(int status, std::span<const Field> fields,
                    std::optional<std::uint64_t> content_length, bool has_body = true) = 0;
  // An interim response before head(): 100 Continue (a relayed Expect), 103 Early Hints. Not
  // 101: protocol switches are the driver's. Ignored once head() was called.
  virtual void informational(int status, std::span<const Field> fields = {}) = 0;
  // Body bytes (copied as needed). False: above the high-water mark; wait for on_writable.
  virtual bool body(std::span<const std::byte> bytes) = 0;
  // The body is complete; `trailers` (HTTP/1.1: only with a chunked body) follow it.
  virtual void end(std::span<const Field> trailers = {}) = 0;
  // The exchange cannot be finished: HTTP/2 resets the stream (INTERNAL_ERROR), HTTP/1.1 must
  // abort the connection once a head went out.
  virtual void abort() = 0;
  // Request-body backpressure. While paused, HTTP/2 keeps the stream's window shut (bytes
  // already in flight, at most one window, may still arrive through on_body) and HTTP/1.1
  // stops parsing the connection. Resume when the consumer has taken what it was given.
  virtual void pause_body() = 0;
  virtual void resume_body() = 0;
  // The Upgrade hook (HTTP/1.1 only; hello's GET /ws): answers a request that asked to switch
  // protocols with `head`, a whole 101 response head ending in its blank line, and hands the
  // connection for good to `next` once the request was read: `next` gets on_open, then the
  // bytes that followed the request, then every later event of the connection (on_close too).
  // The Exchange completes (on_closed(true)) before that; `head` is written at once, so the
  // caller may write what follows it to the connection right after (a tunnel's relay). A
  // connection that ends before the hand-over gives `next` only its on_close. A CONNECT the
  // driver let through (Http1Options::connect) switches the same way, with its own head ("" when
  // `next` answers it). False, and nothing happens, where it cannot: over HTTP/2, after head(),
  // or when the request did not ask to Upgrade (or CONNECT); the Exchange then answers as it
  // would any other error.
  virtual bool switch_protocols(std::string_view head, std::unique_ptr<reactor::Handler> next) {
    (void)head;
    (void)next;
    return false;
  }

 protected:
  ~Response() = default;
};

// The app's side of one exchange. Calls come from the connection's loop thread, in order:
// on_request, on_body*, on_body_end (always, once the request ended; right after on_request
// when it has no body), with on_writable whenever body() had returned false and there is room
// again, then on_closed last.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual void on_request(const RequestHead& head, Response& response) = 0;
  // Request body bytes, valid during the call.
  virtual void on_body(std::span<const std::byte> bytes) { (void)bytes; }
  // The request body ended; `trailers` valid during the call.
  virtual void on_body_end(std::span<const Field> trailers) { (void)trailers; }
  virtual void on_writable() {}
  // Last call: `completed` when the response went out whole, false when the exchange was
  // reset, aborted or its connection ended first. The Exchange is destroyed right after.
  virtual void on_closed(bool completed) { (void)completed; }
};

// Makes an Exchange per request; called on the connection's loop thread.
using ExchangeFactory = std::function<std::unique_ptr<Exchange>()>;

}  // namespace apps::http
