// The HTTP/1.1 server side of one connection: parses requests with HttpParser (llhttp, strict,
// with its limits and smuggling defences) and runs an Exchange per request, from the app's
// factory, the same Exchange API Http2Connection runs per stream. The handler of a plain
// connection that did not begin with the HTTP/2 preface, or of a TLS one whose ALPN did not
// choose "h2" (see VersionSelect).
//
// Requests are served one at a time, in order: a request's body is parsed while its Exchange
// runs, and parsing of the next (pipelined) request waits until the response is whole. Unparsed
// input waiting behind it is kept up to 64 KiB, then reading pauses.
//
// What the driver does for every app (RFC 9112):
// - Refusals, then close: the parser's 400/414/431 with a one-line reason; 505 for a version
//   other than HTTP/1.x; 400 for an HTTP/1.1 request without exactly one Host, or a target that
//   is not a path (origin-form).
// - Response framing from Response::head: Content-Length when the Exchange gives a length, else
//   chunked for HTTP/1.1 requests and close-delimited for HTTP/1.0 ones; no body for HEAD,
//   1xx, 204 and 304; trailers only with a chunked body. The app's own Content-Length,
//   Transfer-Encoding, Connection and Keep-Alive fields are the driver's to write: a Connection
//   field that lists "close" makes the response the connection's last.
// - Keep-alive: the HTTP/1.1 default; "Connection: close", HTTP/1.0 without "Connection:
//   keep-alive", a close-delimited body and the server's drain end the connection after that
//   response. Every response says "Connection: close" or "Connection: keep-alive".
// - Expect: 100-continue (HTTP/1.1): "100 Continue" goes out when the Exchange starts reading
//   the body without having answered: when on_request returns without pause_body() or head(),
//   or at its resume_body(), or before a 2xx head() given while the body is unread (the body
//   belongs with that answer: POST /echo). An Exchange may also send it itself
//   (informational(100)); it goes out once. A 3xx-5xx answer before the body was asked for
//   makes the response the connection's last (the client may or may not send the body).
// - Backpressure: Response::body returns false when Connection::write did, or when a large
//   write (64 KiB or more) finds the loop iteration's budget of them spent (a reactor::TurnTicket
//   shared by the loop's connections: a download read as fast as it is written does not keep
//   the loop to itself); Exchange::on_writable follows on_drain or the ticket's turn.
//   pause_body() stops parsing, resume_body() goes on.
// - The peer's half-close: complete requests are still answered, then the connection closes
//   (aborts, if a response was cut short). The server's drain: idle connections close at once,
//   a busy one after its response (which says "Connection: close" if its head had not gone).
// - Response::abort() aborts the connection. Response::switch_protocols is the Upgrade hook, and
//   with Http1Options::connect also CONNECT's: the connection becomes the app's tunnel.
// - The head timeout (Http1Options::head_timeout): a request head not whole this long after its
//   first byte gets 408 and the close, so a client trickling a head (slowloris) holds a
//   connection for a bounded time. The idle time before a first byte and between requests is the
//   connection's idle timeout (reactor::Connection::set_idle_timeout), the app's to set.
// - An Exchange may answer from outside the driver's calls (a timer, an upstream's callback):
//   what it writes there is gathered and goes out at the end of the loop's turn (or at 16 KiB),
//   so a head and the body bytes one upstream read brought leave in one write; a response it
//   completes there is finished (on_closed, the next request) then too, once its call has
//   returned (reactor::EndOfTurn).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/http/Exchange.hpp"
#include "apps/http/HttpParser.hpp"
#include "reactor/EndOfTurn.hpp"
#include "reactor/Handler.hpp"
#include "reactor/TurnTicket.hpp"
#include "reactor/WheelTimer.hpp"

namespace apps::http {

// A request the driver answered itself, without an Exchange: a head the parser refused (400, 414,
// 431), a version it does not serve (505), a missing Host or a target that is not a path (400),
// the head timeout (408). `reason` is the one line the response body says.
struct Refusal {
  int status = 400;
  std::string_view reason;
};

struct Http1Options {
  // The request line plus its header fields (and, apart, a chunked body's trailers).
  HttpParser::Limits limits{16 * 1024, 100};
  // From a request's first byte to the end of its head (nginx's client_header_timeout, HAProxy's
  // timeout http-request); past it 408 and the close. 0: none.
  std::chrono::milliseconds head_timeout{0};
  // CONNECT requests reach the Exchange, their authority-form target (RFC 9112 3.2.3) as
  // RequestHead::authority and ::target; off, they are refused 400 like any target that is not
  // a path. A CONNECT's answer is the connection's last unless the Exchange switched protocols
  // (its tunnel: Response::switch_protocols).
  bool connect = false;
  // Told of each Refusal, on the loop thread, before its answer is written: the app's log line
  // and counters. Null: nobody is told.
  std::function<void(const Refusal&)> on_refused;
};

// Thread-safety: none; one per connection, on its loop's thread. The Exchange's Response is the
// connection itself: valid until the Exchange's on_closed returns.
class Http1Connection final : public reactor::Handler, private HttpEvents, private Response {
 public:
  Http1Connection(ExchangeFactory factory, Http1Options options = {});
  ~Http1Connection() override;
  Http1Connection(const Http1Connection&) = delete;
  Http1Connection& operator=(const Http1Connection&) = delete;

  void on_open(reactor::Connection& conn) override;
  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override;
  void on_drain(reactor::Connection& conn) override;
  void on_peer_closed(reactor::Connection& conn) override;
  void on_server_stopping(reactor::Connection& conn) override;
  void on_close(reactor::Connection& conn, const reactor::Error& error) override;

 private:
  // The connection's phase, moved only by move_to().
  enum class State {
    idle,        // no exchange: waiting for (or parsing) the next request's head
    reading,     // an exchange runs and its request body is being read
    responding,  // the request was read whole; the exchange's response is not: parsing waits
    upgraded,    // switch_protocols handed the connection to successor_: only forwarding
  };
  // The response's progress, per exchange.
  enum class Answer {
    pending,  // nothing sent but maybe 1xx
    open,     // head sent, body under way
    done,     // whole (or bodiless)
  };
  // How the response body is delimited.
  enum class BodyFraming { none, length, chunked, until_close };

  struct Busy;
  void move_to(State next) { state_ = next; }

  // The one place the connection moves on after any event: parses what can be parsed, finishes
  // an exchange that is done, hands over after an upgrade, writes what is pending, and decides
  // whether to read on. `fresh`: a read not copied anywhere (kept in held_ if not consumed).
  void advance(std::string_view fresh);
  void serve(std::string_view& fresh);
  bool may_parse() const;
  void finish_exchange();
  void input_ended();  // the peer half-closed and everything it sent was parsed
  void hand_over(std::string_view& fresh);  // to successor_, with the input after the request
  void refuse(int status, std::string_view reason);
  void on_head_timer();
  void cut_off();  // aborts the connection after handing it what out_ holds
  void send_continue();
  // A call from the Exchange outside of any event of ours wrote or finished something: advance
  // (write what was gathered, finish a complete exchange) at the end of the loop's turn, once
  // the Exchange's call has returned (it may be destroyed then).
  void later();
  void at_turn_end();
  void on_turn();  // the ticket admitted the next large write
  bool take_turn();
  void writable();  // on_writable, if owed and there is room

  // HttpEvents
  void on_message_begin() override;
  void on_start_line(const StartLine& line) override;
  void on_header(std::string_view name, std::string_view value) override;
  void on_headers_complete(const Framing& framing) override;
  void on_body(std::string_view bytes) override;
  void on_trailer(std::string_view name, std::string_view value) override;
  void on_message_complete() override;

  // Response
  void head(int status, std::span<const Field> fields, std::optional<std::uint64_t> length,
            bool has_body) override;
  void informational(int status, std::span<const Field> fields) override;
  bool body(std::span<const std::byte> bytes) override;
  void end(std::span<const Field> trailers) override;
  void abort() override;
  void pause_body() override;
  void resume_body() override;
  bool switch_protocols(std::string_view head, std::unique_ptr<reactor::Handler> next) override;

  // Whether a field is one the driver writes itself (framing, Connection), so not the app's;
  // a Connection field that lists "close" makes the response the last.
  bool drivers_field(const Field& f);
  void append_fields(std::span<const Field> fields);
  // Serializes a final response head into out_ and sets framing_ (and last_) from it.
  void render_head(int status, std::span<const Field> fields, std::optional<std::uint64_t> length,
                   bool has_body);
  void write(std::string_view bytes);
  void flush();  // writes out_

  ExchangeFactory factory_;
  Http1Options options_;
  HttpParser parser_;
  reactor::TurnTicket turn_;
  std::optional<reactor::EndOfTurn> turn_end_;  // later()'s, from on_open to on_close
  // The head timeout's deadline, armed lazily: a request head that is whole before it fires
  // costs a clock read and no timer operation (the deadline checks head_began_ when it fires).
  std::optional<reactor::WheelTimer> head_timer_;
  std::uint64_t head_began_ = 0;         // loop time of the first byte of the head being parsed
  reactor::Connection* conn_ = nullptr;  // null after on_close
  State state_ = State::idle;
  std::string held_;  // received, not yet consumed by the parser
  std::string out_;   // response bytes not yet written: a head waits for its first body bytes

  // The request being parsed, or whose exchange runs.
  std::unique_ptr<Exchange> exchange_;
  std::vector<Field> fields_;    // its head's fields but Host (views: see HttpEvents)
  std::vector<Field> trailers_;  // its trailers, for on_body_end
  std::string_view method_, target_, authority_;
  int http_major_ = 1;
  int http_minor_ = 1;
  int hosts_ = 0;
  bool expects_continue_ = false;
  bool body_expected_ = false;  // the request has a body (on_body, or at least its end)
  bool head_request_ = false;
  bool upgrade_asked_ = false;  // the request asked to switch protocols (Upgrade, or CONNECT)
  bool in_head_ = false;        // a request head is being parsed (the head timeout runs)
  bool last_ = false;           // the response in flight is the connection's last

  // The response.
  Answer answer_ = Answer::pending;
  BodyFraming framing_ = BodyFraming::none;
  std::uint64_t length_left_ = 0;  // BodyFraming::length: bytes still owed
  bool continue_sent_ = false;
  bool owes_writable_ = false;  // body() returned false: on_writable when there is room
  std::unique_ptr<reactor::Handler> successor_;

  // Orthogonal to the state: why the connection waits.
  int depth_ = 0;                 // events of ours on the stack: advance() runs when they return
  bool blocked_ = false;          // write() returned false; on_drain clears it
  bool body_paused_ = false;      // the Exchange paused the request body
  bool parser_upgraded_ = false;  // the parser stopped after a request that asked to Upgrade
  bool waiting_turn_ = false;     // a large write waits for the ticket's turn
  bool turn_granted_ = false;     // the ticket admitted the next large write already
  bool reading_paused_ = false;
  bool peer_closed_ = false;
  bool stopping_ = false;
};

}  // namespace apps::http
