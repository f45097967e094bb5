// apps::http::Http2Connection on a real loop but no socket: the fuzzers' in-memory Connection
// counts its writes and nghttp2's client session reads them, so what is asserted is how the frames
// were gathered into writes, not how a kernel split them.
#include <doctest/doctest.h>
#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "apps/http/Exchange.hpp"
#include "apps/http/Http2Connection.hpp"
#include "reactor/Loop.hpp"
#include "reactor/Timer.hpp"
#include "tests/fuzz/FakeConnection.hpp"

namespace {

using apps::http::Exchange;
using apps::http::Field;
using apps::http::RequestHead;
using apps::http::Response;

// Answers only when the test says so, as the proxy answers when its upstream does.
struct Pending {
  std::vector<Response*> responses;
};

class LaterExchange final : public Exchange {
 public:
  explicit LaterExchange(Pending& pending) : pending_(pending) {}
  void on_request(const RequestHead&, Response& response) override {
    pending_.responses.push_back(&response);
  }

 private:
  Pending& pending_;
};

// nghttp2's client: sends the requests, counts the complete answers in what the server wrote.
class Client {
 public:
  Client() {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        callbacks, [](nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                      std::size_t len, void* self) {
          static_cast<Client*>(self)->bodies[id].append(reinterpret_cast<const char*>(data), len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        callbacks, [](nghttp2_session*, std::int32_t, std::uint32_t error_code, void* self) {
          if (error_code == NGHTTP2_NO_ERROR) ++static_cast<Client*>(self)->completed;
          return 0;
        });
    nghttp2_session* session = nullptr;
    nghttp2_session_client_new(&session, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    session_.reset(session);
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  }

  void get(int count) {
    for (int i = 0; i < count; ++i) {
      const nghttp2_nv nv[] = {field(":method", "GET"), field(":scheme", "https"),
                               field(":authority", "test"), field(":path", "/")};
      REQUIRE(nghttp2_submit_request(session_.get(), nullptr, nv, 4, nullptr, nullptr) > 0);
    }
  }
  std::string output() {
    std::string out;
    const std::uint8_t* data = nullptr;
    for (auto n = nghttp2_session_mem_send(session_.get(), &data); n > 0;
         n = nghttp2_session_mem_send(session_.get(), &data))
      out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    return out;
  }
  void input(const std::string& bytes) {
    REQUIRE(nghttp2_session_mem_recv(session_.get(),
                                     reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                     bytes.size()) == static_cast<ssize_t>(bytes.size()));
  }

  int completed = 0;
  std::map<std::int32_t, std::string> bodies;

 private:
  static nghttp2_nv field(const char* name, const char* value) {
    return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name)),
            reinterpret_cast<std::uint8_t*>(const_cast<char*>(value)), std::strlen(name),
            std::strlen(value), NGHTTP2_NV_FLAG_NONE};
  }
  std::unique_ptr<nghttp2_session, decltype(&nghttp2_session_del)> session_{nullptr,
                                                                            &nghttp2_session_del};
};

std::span<const std::byte> bytes_of(const std::string& text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

}  // namespace

TEST_CASE("streams answered in one loop turn leave in one write, each answer whole") {
  reactor::Loop loop;
  // A fake connection has no socket to keep the loop alive, and a loop with nothing alive does
  // not even run a non-blocking turn: this timer (which never fires in the test) stands in.
  reactor::Timer alive(loop);
  alive.start(std::chrono::hours(1), {}, [] {});
  fuzz::FakeConnection conn(loop, std::numeric_limits<std::size_t>::max());
  Pending pending;
  apps::http::Http2Connection h2([&] { return std::make_unique<LaterExchange>(pending); }, {});
  Client client;
  h2.on_open(conn);
  client.get(10);
  h2.on_data(conn, bytes_of(client.output()));
  loop.run_once(false);
  REQUIRE(pending.responses.size() == 10);
  client.input(std::exchange(conn.out, {}));
  CHECK(client.completed == 0);
  const std::size_t before = conn.writes;

  // Ten answers of three calls each, all from one callback of one turn.
  loop.post([&] {
    static constexpr char body[] = "hello";
    for (Response* r : pending.responses) {
      r->head(200, {}, 5, true);
      r->body(std::as_bytes(std::span(body, 5)));
      r->end();
    }
  });
  loop.run_once(false);
  CHECK(conn.writes - before == 1);
  client.input(conn.out);
  CHECK(client.completed == 10);
  for (const auto& [id, body] : client.bodies) CHECK(body == "hello");
  h2.on_close(conn, {});
  alive.stop();
  CHECK(loop.close() == 0);
}
