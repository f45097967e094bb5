// One HTTP/2 server connection (RFC 9113) as a pure state machine over nghttp2: ciphertext's
// plaintext goes in with feed(), frames to send come out of output(), requests and their bodies
// are reported to Http2Events, responses are submitted per stream. No sockets and no clock, like
// tls::Engine: a test drives it with an nghttp2 client in memory, a driver binds it to a
// reactor::Connection.
//
// Backpressure crosses the multiplexed connection per stream, in both directions:
// - A request body's bytes count against its stream's receive window until the consumer says it
//   took them (consume()); nghttp2's automatic WINDOW_UPDATEs are off, so a slow consumer holds
//   its own stream's window shut and never the connection's memory.
// - A response body is queued per stream; write() says stop above Http2Limits::stream_high and
//   on_stream_writable() says go once the peer's windows let it drain below stream_low. Frames
//   are serialized only while output() holds less than output_high, so a peer that does not
//   read stops the serialization, not the memory bound.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct nghttp2_session;

namespace apps::http {

using Fields = std::vector<std::pair<std::string, std::string>>;

// A request's head as the client sent it: pseudo-header fields apart, regular fields in order
// (names in lower case, as HTTP/2 requires them).
struct Http2Request {
  std::string method, scheme, authority, path;
  std::string protocol;  // :protocol of an extended CONNECT (RFC 8441), e.g. "websocket"
  Fields fields;
  std::optional<std::uint64_t> content_length;
};

struct Http2Limits {
  // SETTINGS_MAX_CONCURRENT_STREAMS: streams beyond it are refused (REFUSED_STREAM).
  std::uint32_t max_concurrent_streams = 100;
  // The decoded header list of one request, counted as RFC 9113 6.5.2 does (name + value + 32
  // per field); over it the request is answered 431 (an HPACK bomb decodes into this limit).
  std::size_t max_header_list_bytes = 32 * 1024;
  // The receive window of each stream: the most request body a stream holds that its consumer
  // has not taken. The connection's window is max_concurrent_streams times larger, capped at
  // 2^31 - 1, so no stream can close it for the others.
  std::uint32_t stream_window = 64 * 1024;
  // Response bytes queued per stream: write() returns false above `high`; on_stream_writable
  // comes once the queue fell to `low`.
  std::size_t stream_high = 64 * 1024;
  std::size_t stream_low = 16 * 1024;
  // Serialized frames held for the driver; past this, serialization waits for consume_output().
  std::size_t output_high = 64 * 1024;
  // Flood defences. A connection has a budget of frames that make the server work without
  // giving the client anything it asked for: SETTINGS, PING, WINDOW_UPDATE, PRIORITY, empty
  // DATA, RST_STREAM of a stream already closed. Each costs one; each request with its head
  // whole earns `flood_refill` back and each DATA frame sent earns two (the WINDOW_UPDATEs of a
  // client reading it), up to the full budget. Below zero: GOAWAY ENHANCE_YOUR_CALM.
  std::uint32_t flood_budget = 1000;
  std::uint32_t flood_refill = 10;
  // Rapid reset (CVE-2023-44487): streams the client resets before their response completed.
  // Each costs one of this budget; each response completed earns one back. A client that opens
  // and cancels streams faster than it reads answers runs out: GOAWAY ENHANCE_YOUR_CALM.
  std::uint32_t reset_budget = 200;
  // CONTINUATION frames after one HEADERS (nghttp2's own limit; a flood of empty ones costs
  // the server its CPU before any header is complete).
  std::size_t max_continuations = 8;
  // SETTINGS entries in one frame, and queued SETTINGS/PING acknowledgements for a peer that
  // does not read (nghttp2's own limits).
  std::size_t max_settings = 32;
  std::size_t max_outbound_ack = 1000;
  // A response that waits on the peer's flow-control window and moves no byte for this long
  // (checked once per period by the driver's one timer, so it ends between one and two periods
  // after its last byte): the stream is reset (CANCEL) when its own window is shut, the
  // connection ended (GOAWAY ENHANCE_YOUR_CALM) when the connection's window is, and the
  // connection aborted by the driver when the peer reads nothing of the socket. 0: never.
  std::chrono::milliseconds stall_timeout{60000};
  // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): clients may open extended CONNECT streams
  // (:protocol, e.g. WebSockets over HTTP/2). For apps that handle them.
  bool extended_connect = false;
};

// What the session reports, from inside feed() (and from output(), for streams that end while
// their frames go out). Stream ids are the client's odd numbers. A handler may call the
// session's respond/write/end/reset/consume from any of these; it must not destroy the session.
class Http2Events {
 public:
  // A request's head is complete. `end_stream`: it has no body. Answer with respond() (at once
  // or later); a request over max_header_list_bytes never arrives here (the session answers it).
  virtual void on_request(std::int32_t stream, Http2Request& request, bool end_stream) = 0;
  // Body bytes, valid during the call; the stream's window stays shut for them until consume().
  virtual void on_request_body(std::int32_t stream, std::span<const std::byte> bytes) = 0;
  // The request body ended (END_STREAM), with its trailer fields if any.
  virtual void on_request_end(std::int32_t stream, const Fields& trailers) = 0;
  // The stream's response queue fell to stream_low after write() returned false.
  virtual void on_stream_writable(std::int32_t stream) = 0;
  // Last call for the stream: its response went out whole (error_code 0), or it was reset by
  // either side (an RFC 9113 error code) or the connection ended.
  virtual void on_stream_closed(std::int32_t stream, std::uint32_t error_code) = 0;
  // A limit fired without ending the connection (streams refused over max_concurrent_streams,
  // a request answered 431, a stream reset for a stalled window, a stream error nghttp2 found):
  // `what` names the limit, for one log line. Each kind is reported once per connection, so a
  // peer that keeps hitting one cannot flood the log. Connection-ending ones are error().
  virtual void on_limit(std::string_view what) { (void)what; }

 protected:
  ~Http2Events() = default;
};

// Thread-safety: none; one session per connection, on its loop's thread.
class Http2Session {
 public:
  enum class Status {
    ok,      // keep going
    failed,  // the connection must end: error() says why; output() holds the GOAWAY
  };

  Http2Session(Http2Events& events, Http2Limits limits);
  ~Http2Session();
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  // Bytes from the client (the connection preface first). Events are called from inside.
  Status feed(std::span<const std::byte> bytes);
  // Frames to send, serialized up to output_high: valid until the next call into the session.
  std::string_view output();
  // The driver took (wrote) the first `n` bytes of output().
  void consume_output(std::size_t n);

  // The response head: ":status" and `fields` (lower-case names; connection-specific ones are
  // the caller's to leave out). `has_body`: write()/end() follow; else the stream ends here.
  bool respond(std::int32_t stream, int status, const Fields& fields, bool has_body);
  // An interim response (1xx other than 101: "100 Continue", "103 Early Hints") before the
  // final one; false once respond() was called or for a status outside that range.
  bool inform(std::int32_t stream, int status, const Fields& fields);
  // Queues response body bytes; false above stream_high (wait for on_stream_writable).
  bool write(std::int32_t stream, std::span<const std::byte> bytes);
  // The body is complete; `trailers` (may be empty) follow it.
  void end(std::int32_t stream, const Fields& trailers = {});
  // Ends the stream with RST_STREAM and `error_code` (RFC 9113 7).
  void reset(std::int32_t stream, std::uint32_t error_code);
  // The consumer took `n` bytes of the stream's request body: its window opens by that much.
  void consume(std::int32_t stream, std::size_t n);
  // Graceful shutdown: GOAWAY naming the last stream taken; streams in flight finish, new ones
  // are refused. done() turns true once none is left.
  void shutdown();
  // Ends the connection now: GOAWAY with `error_code`.
  void terminate(std::uint32_t error_code);
  // The driver's stall check, once per Http2Limits::stall_timeout while streams are open. A
  // stream with response bytes queued that sent none since the previous call and whose window
  // the peer keeps shut is reset (CANCEL, reported through on_limit); when it is the
  // connection's window that is shut, the connection fails (GOAWAY ENHANCE_YOUR_CALM, error()).
  void sweep_stalled();

  // Nothing left to read or write: the driver closes the connection once output() is empty.
  bool done() const;
  std::size_t open_streams() const { return streams_.size(); }
  // Why feed() failed, for the log ("rapid reset: ...", nghttp2's reason, ...).
  const std::string& error() const { return error_; }
  const Http2Limits& limits() const { return limits_; }
  // The stream's queued response bytes.
  std::size_t queued(std::int32_t stream) const;

 private:
  struct Stream;
  struct Callbacks;
  friend struct Callbacks;

  Stream* find(std::int32_t id);
  void charge_flood(const char* what);
  void enhance_your_calm(std::string why);
  // Reports a limit through on_limit, the first time its `kind` fires on this connection.
  enum class Limit : unsigned { refused = 1, header_list = 2, stalled = 4, stream_error = 8 };
  void limit_fired(Limit kind, std::string_view what);
  // nghttp2 said the connection cannot go on (a fatal error: a flood it caught, too many
  // CONTINUATIONs, a bad preface): no more frames from it; a GOAWAY is written by hand.
  void fail_fatal(int lib_error);

  Http2Events& events_;
  Http2Limits limits_;
  std::unique_ptr<nghttp2_session, void (*)(nghttp2_session*)> session_;
  std::map<std::int32_t, std::unique_ptr<Stream>> streams_;
  std::string out_;         // serialized frames not yet taken
  std::string error_;       // set once the connection is failing
  std::int64_t flood_ = 0;  // what is left of the flood budget
  std::int64_t resets_ = 0;
  std::vector<std::int32_t> writable_;  // streams that drained below stream_low while sending
  std::exception_ptr exception_;        // an event's, carried across nghttp2's C frames
  bool failed_ = false;
  bool fatal_ = false;         // nghttp2 is unusable (fail_fatal): output() only drains out_
  unsigned limits_fired_ = 0;  // Limit bits already reported
};

}  // namespace apps::http
