// apps::http::Http1Connection on a plain listener, with a small Exchange written here, for what
// hello's routes never ask of it: a body without a length (chunked with trailers for HTTP/1.1,
// close-delimited for HTTP/1.0), request trailers, an Exchange's own 100 Continue, a final
// answer before the body, and answers given later, from outside the connection's events, to
// pipelined requests. Peers: raw sockets (the bytes on the wire are the point) and curl.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "apps/http/Http1Connection.hpp"
#include "reactor/Address.hpp"
#include "reactor/Loop.hpp"
#include "reactor/TcpListener.hpp"
#include "tests/integration/Peers.hpp"
#include "tests/integration/RawClient.hpp"
#include "tests/support/LoopThread.hpp"

using namespace std::chrono_literals;
using apps::http::Field;
using integration::RawClient;

namespace {

std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

//   GET /chunked      200, no length: "abc" + "defgh", trailer X-Checksum: abcdefgh
//   POST /trailers    200 "body=BODY trailers=NAME:VALUE;..." once the request is whole
//   POST /self-continue  sends its own 100 Continue at the head, then answers like /trailers
//   POST /early       413 at the head, body never asked for
//   GET /later        answers 200 "later" from a posted task, outside the connection's events
//   anything else     200 "now"
class TestExchange final : public apps::http::Exchange {
 public:
  explicit TestExchange(reactor::Loop& loop) : loop_(loop) {}

  void on_request(const apps::http::RequestHead& head, apps::http::Response& response) override {
    response_ = &response;
    path_ = head.target;
    if (path_ == "/chunked") {
      response.head(200, {}, std::nullopt);
      response.body(bytes_of("abc"));
      response.body(bytes_of("defgh"));
      const Field trailer{"X-Checksum", "abcdefgh"};
      response.end(std::span(&trailer, 1));
    } else if (path_ == "/self-continue") {
      response.informational(100);
    } else if (path_ == "/early") {
      response.head(413, {}, 0, false);
    } else if (path_ == "/later") {
      loop_.post([this] {
        response_->head(200, {}, 5);
        response_->body(bytes_of("later"));
        response_->end();
      });
    }
  }
  void on_body(std::span<const std::byte> bytes) override {
    body_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void on_body_end(std::span<const Field> trailers) override {
    if (path_ == "/trailers" || path_ == "/self-continue") {
      std::string text = "body=" + body_ + " trailers=";
      for (const Field& f : trailers)
        text += std::string(f.name) + ":" + std::string(f.value) + ";";
      reply(text);
    } else if (path_ != "/chunked" && path_ != "/early" && path_ != "/later") {
      reply("now");
    }
  }

 private:
  void reply(const std::string& text) {
    response_->head(200, {}, text.size());
    response_->body(bytes_of(text));
    response_->end();
  }

  reactor::Loop& loop_;
  apps::http::Response* response_ = nullptr;
  std::string path_, body_;
};

struct H1Server {
  explicit H1Server(apps::http::Http1Options options = {}) {
    REQUIRE(loop.call([&] {
      auto factory = [this, options]() -> std::unique_ptr<reactor::Handler> {
        return std::make_unique<apps::http::Http1Connection>(
            [this] { return std::make_unique<TestExchange>(loop.loop()); }, options);
      };
      auto& listener = loop.own(std::make_unique<reactor::TcpListener>(loop.loop(), factory));
      REQUIRE(!listener.listen(*reactor::Address::from_ip("127.0.0.1", 0)));
      port = listener.local_address().port();
    }));
  }
  ~H1Server() { CHECK(loop.stop_and_close() == 0); }

  test_support::LoopThread loop{120s};
  std::uint16_t port = 0;
};

}  // namespace

TEST_CASE("Http1Connection: a body of unknown length is chunked with trailers, then keep-alive") {
  H1Server server;
  RawClient client(server.port);
  client.send("GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE_MESSAGE(client.read_until("\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n"
                                    "X-Checksum: abcdefgh\r\n\r\n",
                                    10s),
                  client.received());
  CHECK(integration::contains(client.received(), "Transfer-Encoding: chunked\r\n"));
  CHECK(integration::contains(client.received(), "Connection: keep-alive\r\n"));
  CHECK(!integration::contains(client.received(), "Content-Length"));
  // The same connection carries the next request.
  client.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(client.read_until("Content-Length: 3\r\nConnection: keep-alive\r\n\r\nnow", 10s));
}

TEST_CASE("Http1Connection: to HTTP/1.0 a body of unknown length is delimited by the close") {
  H1Server server;
  RawClient client(server.port);
  client.send("GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  CHECK(client.closed_within(10s));
  const std::string& got = client.received();
  CHECK_MESSAGE(got.starts_with("HTTP/1.1 200 OK\r\n"), got);
  CHECK_MESSAGE(got.ends_with("Connection: close\r\n\r\nabcdefgh"), got);
  CHECK(!integration::contains(got, "Transfer-Encoding"));
  CHECK(!integration::contains(got, "X-Checksum"));
}

TEST_CASE("Http1Connection: HEAD gets the head a GET would, without its chunks") {
  H1Server server;
  RawClient client(server.port);
  client.send("HEAD /chunked HTTP/1.1\r\nHost: t\r\n\r\nGET /x HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(client.read_until("\r\n\r\nnow", 10s));
  const std::string& got = client.received();
  CHECK(integration::contains(got,
                              "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
                              "HTTP/1.1 200 OK\r\n"));
  CHECK(!integration::contains(got, "abc"));
}

TEST_CASE("Http1Connection: a chunked request's trailers reach the Exchange after its body") {
  H1Server server;
  RawClient client(server.port);
  client.send(
      "POST /trailers HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nhe\r\n3\r\nllo\r\n0\r\nX-T: 42\r\nX-U: u\r\n\r\n");
  CHECK_MESSAGE(client.read_until("\r\n\r\nbody=hello trailers=X-T:42;X-U:u;", 10s),
                client.received());
}

TEST_CASE("Http1Connection: 100 Continue goes out once, sent by the driver or by the Exchange") {
  H1Server server;
  for (const std::string path : {"/trailers", "/self-continue"}) {
    CAPTURE(path);
    RawClient client(server.port);
    client.send("POST " + path +
                " HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    REQUIRE_MESSAGE(client.read_until("HTTP/1.1 100 Continue\r\n\r\n", 10s), client.received());
    client.send("hello");
    REQUIRE_MESSAGE(client.read_until("body=hello trailers=", 10s), client.received());
    CHECK(count(client.received(), "100 Continue") == 1);
  }
  // curl waits for it (or a second) before sending the body; it must see it and get the echo.
  integration::Process curl({"curl", "--silent", "--show-error", "--max-time", "30",
                             "--expect100-timeout", "20", "-H", "Expect: 100-continue",
                             "--data-binary", "abc", "--write-out", "\n",
                             "http://127.0.0.1:" + std::to_string(server.port) + "/trailers"});
  CHECK(integration::output_of(curl, 40s) == "body=abc trailers=\n");
}

TEST_CASE("Http1Connection: a final answer before an expected body is the connection's last") {
  H1Server server;
  RawClient client(server.port);
  client.send(
      "POST /early HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  CHECK(client.closed_within(10s));
  const std::string& got = client.received();
  CHECK_MESSAGE(got.starts_with("HTTP/1.1 413 "), got);
  CHECK(integration::contains(got, "Connection: close\r\n"));
  CHECK(!integration::contains(got, "100 Continue"));
}

TEST_CASE(
    "Http1Connection: pipelined requests are answered in order when the first answers later") {
  H1Server server;
  RawClient client(server.port);
  client.send(
      "GET /later HTTP/1.1\r\nHost: t\r\n\r\nGET /x HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /later HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  CHECK(client.closed_within(10s));
  const std::string& got = client.received();
  const auto first = got.find("\r\n\r\nlater");
  const auto second = got.find("\r\n\r\nnow");
  const auto third = got.rfind("Connection: close\r\n\r\nlater");
  CHECK_MESSAGE(first != std::string::npos, got);
  CHECK_MESSAGE((first < second && second < third && third != std::string::npos), got);
  CHECK(count(got, "HTTP/1.1 200 OK") == 3);
}

TEST_CASE("Http1Connection: a head trickled in a byte at a time gets 408 at the head timeout") {
  apps::http::Http1Options options;
  options.head_timeout = 1s;
  H1Server server(options);
  RawClient client(server.port);
  // A head that never ends, a byte every 50 ms: 10 s of trickling, so the deadline must count
  // from the head's first byte, not from the last one, for the 408 to come while it trickles
  // (a generous margin: it is due after about 1 s).
  const std::string head = "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + std::string(200, 'a');
  std::size_t sent = 0;
  while (sent < head.size() && client.try_send(head.substr(sent, 1))) {
    ++sent;
    if (client.read_until("\r\n\r\n", 50ms)) break;  // an answer's head arrived
  }
  INFO(client.received());
  CHECK(client.received().starts_with("HTTP/1.1 408 Request Timeout\r\n"));
  CHECK(integration::contains(client.received(), "Connection: close\r\n"));
  CHECK(sent < head.size());
  CHECK(client.closed_within(10s));
  CHECK(integration::contains(client.received(), "request head not received within 1 s\n"));
}
