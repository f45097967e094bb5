// apps::http::Http2Session against nghttp2's own client session, in memory: what a real HTTP/2
// client sends (preface, SETTINGS, HPACK, WINDOW_UPDATEs) drives the server side, and every
// byte and frame the server produces is parsed by the client. No sockets, no clock.
#include <doctest/doctest.h>
#include <nghttp2/nghttp2.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "apps/http/Http2Session.hpp"

using apps::http::Fields;
using apps::http::Http2Limits;
using apps::http::Http2Request;
using apps::http::Http2Session;

namespace {

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

// The client: nghttp2's client session, recording each stream's response.
class Client {
 public:
  struct Response {
    int status = 0;
    std::vector<int> statuses;  // every :status in order: interim ones, then the final one
    Fields fields, trailers;
    std::string body;
    bool closed = false;
    std::uint32_t error_code = 0;
    bool headers_done = false;
  };

  Client() {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_close);
    nghttp2_session* session = nullptr;
    nghttp2_session_client_new(&session, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    session_.reset(session);
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  }

  nghttp2_session* session() { return session_.get(); }

  // A request; `body` (may be empty) sent as DATA, all of it queued at once.
  std::int32_t request(const std::string& method, const std::string& path,
                       const std::string& body = {}, Fields extra = {}, Fields trailers = {}) {
    bodies_.push_back(std::make_unique<Body>(Body{body, 0, std::move(trailers), {}}));
    std::vector<nghttp2_nv> nv;
    Fields all = {
        {":method", method}, {":scheme", "https"}, {":authority", "test"}, {":path", path}};
    all.insert(all.end(), extra.begin(), extra.end());
    fields_.push_back(std::move(all));
    for (auto& [n, v] : fields_.back()) nv.push_back(field(n, v));
    nghttp2_data_provider provider{};
    provider.source.ptr = bodies_.back().get();
    provider.read_callback = read_body;
    const std::int32_t id = nghttp2_submit_request(session(), nullptr, nv.data(), nv.size(),
                                                   body.empty() ? nullptr : &provider, nullptr);
    REQUIRE(id > 0);
    return id;
  }

  std::map<std::int32_t, Response> responses;
  std::uint32_t goaway_code = 0;
  bool goaway = false;
  std::int32_t goaway_last_stream = -1;

 private:
  struct Body {
    std::string data;
    std::size_t sent;
    Fields trailers;
    std::vector<nghttp2_nv> trailer_nv;
  };

  static nghttp2_nv field(const std::string& n, const std::string& v) {
    return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
            reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
            NGHTTP2_NV_FLAG_NONE};
  }
  static Client& self(void* p) { return *static_cast<Client*>(p); }
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t, void* user) {
    auto& r = self(user).responses[frame->hd.stream_id];
    const std::string n(reinterpret_cast<const char*>(name), namelen);
    const std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      r.status = std::stoi(v);
      r.statuses.push_back(r.status);
    } else if (r.headers_done) {
      r.trailers.emplace_back(n, v);
    } else {
      r.fields.emplace_back(n, v);
    }
    return 0;
  }
  static int on_frame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& c = self(user);
    if (frame->hd.type == NGHTTP2_HEADERS) c.responses[frame->hd.stream_id].headers_done = true;
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      c.goaway = true;
      c.goaway_code = frame->goaway.error_code;
      c.goaway_last_stream = frame->goaway.last_stream_id;
    }
    return 0;
  }
  static int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                     std::size_t len, void* user) {
    self(user).responses[id].body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int on_close(nghttp2_session*, std::int32_t id, std::uint32_t code, void* user) {
    auto& r = self(user).responses[id];
    r.closed = true;
    r.error_code = code;
    return 0;
  }
  static ssize_t read_body(nghttp2_session* session, std::int32_t id, std::uint8_t* buf,
                           std::size_t length, std::uint32_t* flags, nghttp2_data_source* source,
                           void*) {
    auto* body = static_cast<Body*>(source->ptr);
    const std::size_t n = std::min(length, body->data.size() - body->sent);
    std::copy_n(body->data.data() + body->sent, n, buf);
    body->sent += n;
    if (body->sent == body->data.size()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!body->trailers.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        for (auto& [name, value] : body->trailers) body->trailer_nv.push_back(field(name, value));
        nghttp2_submit_trailer(session, id, body->trailer_nv.data(), body->trailer_nv.size());
      }
    }
    return static_cast<ssize_t>(n);
  }

  std::unique_ptr<nghttp2_session, void (*)(nghttp2_session*)> session_{nullptr,
                                                                        nghttp2_session_del};
  std::vector<std::unique_ptr<Body>> bodies_;
  std::vector<Fields> fields_;
};

// The server's application: records what arrives; answers as each test says.
class App final : public apps::http::Http2Events {
 public:
  struct Seen {
    Http2Request request;
    std::string body;
    bool ended = false;
    Fields trailers;
    bool closed = false;
    std::uint32_t error_code = 0;
    int writable = 0;
  };
  Http2Session* session = nullptr;
  std::map<std::int32_t, Seen> seen;
  // What to do with a complete request: by default 200 "hello" at once.
  std::function<void(std::int32_t, Seen&)> on_end = [this](std::int32_t id, Seen&) {
    session->respond(id, 200, {{"content-type", "text/plain"}}, true);
    session->write(id, bytes_of("hello"));
    session->end(id);
  };
  bool consume = true;  // take request body bytes as they come

  void on_request(std::int32_t id, Http2Request& request, bool) override {
    seen[id].request = request;
  }
  void on_request_body(std::int32_t id, std::span<const std::byte> bytes) override {
    seen[id].body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (consume) session->consume(id, bytes.size());
  }
  void on_request_end(std::int32_t id, const Fields& trailers) override {
    auto& s = seen[id];
    s.ended = true;
    s.trailers = trailers;
    if (on_end) on_end(id, s);
  }
  void on_stream_writable(std::int32_t id) override { ++seen[id].writable; }
  void on_limit(std::string_view what) override { limits.emplace_back(what); }
  std::vector<std::string> limits;  // what on_limit reported, in order
  void on_stream_closed(std::int32_t id, std::uint32_t code) override {
    seen[id].closed = true;
    seen[id].error_code = code;
  }
};

struct Pair {
  explicit Pair(Http2Limits limits = {}) : server(app, limits) { app.session = &server; }
  // Moves bytes both ways until neither side has anything to send. Returns the server's status.
  Http2Session::Status pump(int rounds = 10000) {
    Http2Session::Status status = Http2Session::Status::ok;
    for (int i = 0; i < rounds; ++i) {
      bool moved = false;
      const std::uint8_t* data = nullptr;
      ssize_t n = 0;
      std::string to_server;
      while ((n = nghttp2_session_mem_send(client.session(), &data)) > 0)
        to_server.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
      if (!to_server.empty() && status == Http2Session::Status::ok) {
        status = server.feed(bytes_of(to_server));
        moved = true;
      }
      const std::string_view out = server.output();
      if (!out.empty()) {
        const std::string copy(out);
        server.consume_output(copy.size());
        REQUIRE(nghttp2_session_mem_recv(client.session(),
                                         reinterpret_cast<const std::uint8_t*>(copy.data()),
                                         copy.size()) >= 0);
        moved = true;
      }
      if (!moved) break;
    }
    return status;
  }

  App app;
  Http2Session server;
  Client client;
};

std::string pattern(std::size_t size, unsigned seed) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 7 + seed) % 251);
  return s;
}

}  // namespace

TEST_CASE("http2: a GET is answered on its stream and the stream closes cleanly") {
  Pair p;
  const auto id = p.client.request("GET", "/x?y=1");
  CHECK(p.pump() == Http2Session::Status::ok);
  REQUIRE(p.app.seen.count(id) == 1);
  CHECK(p.app.seen[id].request.method == "GET");
  CHECK(p.app.seen[id].request.path == "/x?y=1");
  CHECK(p.app.seen[id].request.authority == "test");
  const auto& r = p.client.responses[id];
  CHECK(r.status == 200);
  CHECK(r.body == "hello");
  CHECK(r.closed);
  CHECK(r.error_code == NGHTTP2_NO_ERROR);
  CHECK(p.app.seen[id].closed);
  CHECK(p.server.open_streams() == 0);
}

TEST_CASE("http2: 50 concurrent streams with 200 KiB bodies each way arrive byte-exact") {
  Pair p;
  // Echo: the body comes back as it arrives; the response starts with the first byte.
  p.app.on_end = [&p](std::int32_t id, App::Seen& s) {
    p.server.respond(id, 200, {}, true);
    p.server.write(id, bytes_of(s.body));
    p.server.end(id, {{"x-length", std::to_string(s.body.size())}});
  };
  std::vector<std::int32_t> ids;
  for (unsigned i = 0; i < 50; ++i)
    ids.push_back(p.client.request("POST", "/echo", pattern(200 * 1024, i)));
  CHECK(p.pump() == Http2Session::Status::ok);
  for (unsigned i = 0; i < ids.size(); ++i) {
    CAPTURE(i);
    const auto& r = p.client.responses[ids[i]];
    CHECK(r.status == 200);
    CHECK(r.body == pattern(200 * 1024, i));
    CHECK(r.trailers == Fields{{"x-length", "204800"}});
    CHECK(r.error_code == NGHTTP2_NO_ERROR);
  }
  CHECK(p.server.open_streams() == 0);
}

TEST_CASE("http2: a request body that is not consumed holds its own stream's window only") {
  Http2Limits limits;
  limits.stream_window = 16 * 1024;
  Pair p(limits);
  p.app.consume = false;
  p.app.on_end = nullptr;
  p.pump();  // the client learns the windows first (before, it may send RFC 9113's default 64 KiB)
  const auto slow = p.client.request("POST", "/slow", pattern(100 * 1024, 1));
  const auto fast = p.client.request("POST", "/fast", pattern(100 * 1024, 2));
  CHECK(p.pump() == Http2Session::Status::ok);
  // Neither consumed: each stream stopped at its window, nothing more was sent.
  CHECK(p.app.seen[slow].body.size() == 16 * 1024);
  CHECK(p.app.seen[fast].body.size() == 16 * 1024);
  // The consumer of one stream takes its bytes: that stream goes on to the end, the other not.
  p.app.consume = true;
  p.server.consume(fast, p.app.seen[fast].body.size());
  CHECK(p.pump() == Http2Session::Status::ok);
  CHECK(p.app.seen[fast].body == pattern(100 * 1024, 2));
  CHECK(p.app.seen[fast].ended);
  CHECK(p.app.seen[slow].body.size() == 16 * 1024);
  CHECK_FALSE(p.app.seen[slow].ended);
}

TEST_CASE("http2: write() says stop above the stream's high mark and on_stream_writable resumes") {
  Http2Limits limits;
  limits.stream_high = 32 * 1024;
  limits.stream_low = 8 * 1024;
  Pair p(limits);
  bool first_write = true;
  p.app.on_end = [&](std::int32_t id, App::Seen&) {
    p.server.respond(id, 200, {}, true);
    first_write = p.server.write(id, bytes_of(pattern(100 * 1024, 3)));
  };
  const auto id = p.client.request("GET", "/big");
  CHECK(p.pump() == Http2Session::Status::ok);
  CHECK_FALSE(first_write);  // 100 KiB queued is over the 32 KiB mark
  // The client's 64 KiB window let part go; the rest drained below the low mark once it
  // opened its window again, and the stream said so.
  CHECK(p.app.seen[id].writable >= 1);
  p.server.end(id);
  CHECK(p.pump() == Http2Session::Status::ok);
  CHECK(p.client.responses[id].body == pattern(100 * 1024, 3));
}

TEST_CASE("http2: a header list over the limit is answered 431 and the connection goes on") {
  Http2Limits limits;
  limits.max_header_list_bytes = 4096;
  Pair p(limits);
  const auto big = p.client.request("GET", "/", {}, {{"x-big", std::string(5000, 'a')}});
  const auto small = p.client.request("GET", "/");
  CHECK(p.pump() == Http2Session::Status::ok);
  CHECK(p.client.responses[big].status == 431);
  CHECK(p.app.seen.count(big) == 0);  // never reached the application
  CHECK(p.client.responses[small].status == 200);
  CHECK(p.client.responses[small].body == "hello");
}

TEST_CASE("http2: streams beyond max_concurrent_streams are refused with REFUSED_STREAM") {
  Http2Limits limits;
  limits.max_concurrent_streams = 4;
  Pair p(limits);
  p.app.on_end = nullptr;  // hold every stream open
  // Sent before the client has seen the server's SETTINGS: the server must refuse the excess.
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(p.client.request("GET", "/"));
  CHECK(p.pump() == Http2Session::Status::ok);
  CHECK(p.app.seen.size() == 4);
  CHECK(p.server.open_streams() == 4);
  int refused = 0;
  for (const auto id : ids)
    if (p.client.responses[id].closed &&
        p.client.responses[id].error_code == NGHTTP2_REFUSED_STREAM)
      ++refused;
  CHECK(refused == 2);
}

TEST_CASE(
    "http2: a client that opens and resets streams faster than it reads answers gets GOAWAY ENHANCE_YOUR_CALM") {
  Http2Limits limits;
  limits.reset_budget = 20;
  Pair p(limits);
  p.app.on_end = nullptr;  // answers never come: every reset cancels a stream in flight
  Http2Session::Status status = Http2Session::Status::ok;
  int sent = 0;
  for (; sent < 100 && status == Http2Session::Status::ok; ++sent) {
    const auto id = p.client.request("GET", "/");
    status = p.pump();  // the HEADERS go out (a request reset before that is never sent)
    nghttp2_submit_rst_stream(p.client.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    if (status == Http2Session::Status::ok) status = p.pump();
  }
  CHECK(status == Http2Session::Status::failed);
  CHECK(sent == 21);  // the 21st reset is one more than the budget
  CHECK(p.client.goaway);
  CHECK(p.client.goaway_code == NGHTTP2_ENHANCE_YOUR_CALM);
  CHECK(p.server.error().find("rapid reset") == 0);
}

TEST_CASE("http2: resets of streams whose answers were read earn the budget back") {
  Http2Limits limits;
  limits.reset_budget = 20;
  Pair p(limits);
  // 100 resets, more than the budget, but each after another stream's answer was read whole.
  for (int i = 0; i < 100; ++i) {
    p.client.request("GET", "/");
    REQUIRE(p.pump() == Http2Session::Status::ok);
    auto answer = std::exchange(p.app.on_end, nullptr);
    const auto cancelled = p.client.request("GET", "/");
    REQUIRE(p.pump() == Http2Session::Status::ok);
    nghttp2_submit_rst_stream(p.client.session(), NGHTTP2_FLAG_NONE, cancelled, NGHTTP2_CANCEL);
    REQUIRE(p.pump() == Http2Session::Status::ok);
    p.app.on_end = std::move(answer);
  }
  CHECK_FALSE(p.client.goaway);
}

TEST_CASE("http2: a PING flood ends in GOAWAY ENHANCE_YOUR_CALM") {
  Http2Limits limits;
  limits.flood_budget = 50;
  Pair p(limits);
  Http2Session::Status status = Http2Session::Status::ok;
  int pings = 0;
  for (; pings < 1000 && status == Http2Session::Status::ok; ++pings) {
    nghttp2_submit_ping(p.client.session(), NGHTTP2_FLAG_NONE, nullptr);
    status = p.pump();
  }
  CHECK(status == Http2Session::Status::failed);
  CHECK(pings == 50);  // the client's opening SETTINGS was the budget's first frame
  CHECK(p.client.goaway_code == NGHTTP2_ENHANCE_YOUR_CALM);
  CHECK(p.server.error().find("flood of PING frames") == 0);
}

TEST_CASE("http2: shutdown() lets the stream in flight finish and refuses the next") {
  Pair p;
  p.app.on_end = nullptr;
  const auto held = p.client.request("GET", "/held");
  CHECK(p.pump() == Http2Session::Status::ok);
  p.server.shutdown();
  CHECK(p.pump() == Http2Session::Status::ok);
  CHECK(p.client.goaway);
  CHECK(p.client.goaway_code == NGHTTP2_NO_ERROR);
  CHECK(p.client.goaway_last_stream == held);
  CHECK_FALSE(p.server.done());  // one stream still in flight
  p.server.respond(held, 200, {}, true);
  p.server.write(held, bytes_of("late"));
  p.server.end(held);
  CHECK(p.pump() == Http2Session::Status::ok);
  CHECK(p.client.responses[held].body == "late");
  CHECK(p.client.responses[held].error_code == NGHTTP2_NO_ERROR);
  CHECK(p.server.done());
}

TEST_CASE("http2: request trailers reach the application and a bad preface fails the session") {
  Pair p;
  p.app.on_end = [&p](std::int32_t id, App::Seen&) { p.server.respond(id, 204, {}, false); };
  const auto id = p.client.request("POST", "/", "body", {}, {{"x-checksum", "abc"}});
  CHECK(p.pump() == Http2Session::Status::ok);
  CHECK(p.app.seen[id].body == "body");
  CHECK(p.app.seen[id].trailers == Fields{{"x-checksum", "abc"}});
  CHECK(p.client.responses[id].status == 204);

  App app;
  Http2Session server(app, {});
  app.session = &server;
  CHECK(server.feed(bytes_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) == Http2Session::Status::failed);
  CHECK_FALSE(server.error().empty());
}

TEST_CASE("http2: an interim 100 goes out before the final response and not after it") {
  Pair p;
  bool late = true;
  p.app.on_end = [&](std::int32_t id, App::Seen&) {
    CHECK(p.server.inform(id, 100, {}));
    CHECK_FALSE(p.server.inform(id, 101, {}));  // protocol switches are not interim answers
    p.server.respond(id, 204, {}, false);
    late = p.server.inform(id, 100, {});
  };
  const auto id = p.client.request("POST", "/upload", "body", {{"expect", "100-continue"}});
  CHECK(p.pump() == Http2Session::Status::ok);
  CHECK(p.client.responses[id].statuses == std::vector<int>{100, 204});
  CHECK_FALSE(late);
  CHECK(p.client.responses[id].error_code == NGHTTP2_NO_ERROR);
}

TEST_CASE("http2: a response the client's shut window holds is reset at the second stall sweep") {
  Pair p;
  // The client offers streams no window at all: not a byte of body can move.
  const nghttp2_settings_entry shut{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0};
  nghttp2_submit_settings(p.client.session(), NGHTTP2_FLAG_NONE, &shut, 1);
  p.app.on_end = [&](std::int32_t id, App::Seen&) {
    p.server.respond(id, 200, {}, true);
    p.server.write(id, bytes_of(pattern(1000, 1)));
  };
  const auto id = p.client.request("GET", "/big");
  CHECK(p.pump() == Http2Session::Status::ok);
  CHECK(p.server.queued(id) == 1000);
  // The wait began within this period: not a whole one without progress yet.
  p.server.sweep_stalled();
  CHECK(p.pump() == Http2Session::Status::ok);
  CHECK_FALSE(p.client.responses[id].closed);
  p.server.sweep_stalled();
  CHECK(p.pump() == Http2Session::Status::ok);
  CHECK(p.client.responses[id].closed);
  CHECK(p.client.responses[id].error_code == NGHTTP2_CANCEL);
  CHECK(p.app.seen[id].error_code == NGHTTP2_CANCEL);
  REQUIRE(p.app.limits.size() == 1);
  CHECK(p.app.limits[0].find("stream reset (CANCEL)") == 0);
  CHECK_FALSE(p.client.goaway);  // the connection goes on
}

TEST_CASE("http2: a response that moves between sweeps is never reset") {
  Pair p;
  const nghttp2_settings_entry shut{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0};
  nghttp2_submit_settings(p.client.session(), NGHTTP2_FLAG_NONE, &shut, 1);
  p.app.on_end = [&](std::int32_t id, App::Seen&) {
    p.server.respond(id, 200, {}, true);
    p.server.write(id, bytes_of(pattern(1000, 2)));
    p.server.end(id);
  };
  const auto id = p.client.request("GET", "/slow");
  CHECK(p.pump() == Http2Session::Status::ok);
  // A trickle: 100 bytes of window per period, each taken before the next sweep.
  for (int i = 0; i < 10; ++i) {
    p.server.sweep_stalled();
    nghttp2_submit_window_update(p.client.session(), NGHTTP2_FLAG_NONE, id, 100);
    CHECK(p.pump() == Http2Session::Status::ok);
  }
  CHECK(p.client.responses[id].closed);
  CHECK(p.client.responses[id].error_code == NGHTTP2_NO_ERROR);
  CHECK(p.client.responses[id].body == pattern(1000, 2));
  CHECK(p.app.limits.empty());
}

TEST_CASE("http2: a CONTINUATION flood fails the session with a GOAWAY written for nghttp2") {
  Http2Limits limits;
  limits.max_continuations = 4;
  App app;
  Http2Session server(app, limits);
  app.session = &server;
  std::string in = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  in += std::string("\0\0\0\x04\0\0\0\0\0", 9);  // SETTINGS, empty
  // HEADERS on stream 1 without END_HEADERS (":method: GET", indexed), then empty
  // CONTINUATIONs.
  in += std::string("\0\0\x01\x01\x01\0\0\0\x01\x82", 10);
  for (int i = 0; i < 10; ++i) in += std::string("\0\0\0\x09\0\0\0\0\x01", 9);
  CHECK(server.feed(bytes_of(in)) == Http2Session::Status::failed);
  CHECK(server.error().find("CONTINUATION") != std::string::npos);
  const std::string out(server.output());
  // The last frame out is GOAWAY (type 7), ENHANCE_YOUR_CALM (11), naming stream 1 as the last
  // one nghttp2 began to process (its header block never ended: the client may not retry it
  // blindly, as RFC 9113 6.8 wants of a stream that may have been processed).
  REQUIRE(out.size() >= 17);
  CHECK(out.substr(out.size() - 17) ==
        std::string("\0\0\x08\x07\0\0\0\0\0\0\0\0\x01\0\0\0\x0b", 17));
  CHECK_FALSE(server.done());  // the GOAWAY must go out first
  server.consume_output(out.size());
  CHECK(server.done());
  CHECK(server.output().empty());  // nothing more from a session nghttp2 gave up on
}

TEST_CASE("http2: the WINDOW_UPDATEs of a client reading a long download are not a flood") {
  Http2Limits limits;
  limits.flood_budget = 50;
  Pair p(limits);
  const std::string body = pattern(4 << 20, 5);
  p.app.on_end = [&](std::int32_t id, App::Seen&) {
    p.server.respond(id, 200, {}, true);
    p.server.write(id, bytes_of(body));
    p.server.end(id);
  };
  // nghttp2's client opens both windows every 32 KiB read: about 256 WINDOW_UPDATEs, five
  // times the budget, earned back by the DATA frames they ask for.
  const auto id = p.client.request("GET", "/long");
  CHECK(p.pump(100000) == Http2Session::Status::ok);
  CHECK_FALSE(p.client.goaway);
  CHECK(p.client.responses[id].body == body);
}
