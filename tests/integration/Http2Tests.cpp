// apps::http::Http2Connection on a plain listener (HTTP/2 with prior knowledge) against clients
// nobody here wrote: curl --http2-prior-knowledge and h2load from nghttp2-client. The app is a
// small Exchange written here; the same Exchange API carries hello's routes.
#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <regex>
#include <string>

#include "apps/http/Http2Connection.hpp"
#include "reactor/Address.hpp"
#include "reactor/TcpListener.hpp"
#include "tests/integration/Peers.hpp"
#include "tests/support/LoopThread.hpp"
#include "tests/support/Pattern.hpp"
#include "tests/support/TestDir.hpp"

using namespace std::chrono_literals;
using apps::http::Field;
using integration::output_of;
using integration::Process;

namespace {

std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// GET /hello: "hello\n"; POST /echo: the body back as it comes, with backpressure both ways.
class TestExchange final : public apps::http::Exchange {
 public:
  explicit TestExchange(int& completed) : completed_(completed) {}

  void on_request(const apps::http::RequestHead& head, apps::http::Response& response) override {
    response_ = &response;
    if (head.target == "/echo" && head.method == "POST") {
      echo_ = true;
      const Field type{"Content-Type", "application/octet-stream"};
      response.head(200, std::span(&type, 1), head.content_length);
      return;
    }
    const Field fields[] = {{"Content-Type", "text/plain"}, {"Connection", "keep-alive"}};
    response.head(head.target == "/hello" ? 200 : 404, fields, 6);
    response.body(bytes_of(head.target == "/hello" ? "hello\n" : "nope!\n"));
  }
  void on_body(std::span<const std::byte> bytes) override {
    if (echo_ && !response_->body(bytes)) response_->pause_body();
  }
  void on_writable() override { response_->resume_body(); }
  void on_body_end(std::span<const Field>) override { response_->end(); }
  void on_closed(bool completed) override {
    if (completed) ++completed_;
  }

 private:
  int& completed_;
  apps::http::Response* response_ = nullptr;
  bool echo_ = false;
};

struct H2Server {
  H2Server() {
    REQUIRE(loop.call([&] {
      auto factory = [this]() -> std::unique_ptr<reactor::Handler> {
        return std::make_unique<apps::http::Http2Connection>(
            [this] { return std::make_unique<TestExchange>(completed); },
            apps::http::Http2Limits{});
      };
      auto& listener = loop.own(std::make_unique<reactor::TcpListener>(loop.loop(), factory));
      REQUIRE(!listener.listen(*reactor::Address::from_ip("127.0.0.1", 0)));
      port = std::to_string(listener.local_address().port());
    }));
  }
  ~H2Server() { CHECK(loop.stop_and_close() == 0); }

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + port + path; }

  int completed = 0;  // exchanges whose response went out whole (loop thread)
  test_support::LoopThread loop{120s};
  std::string port;
};

}  // namespace

TEST_CASE("http2: curl with prior knowledge gets its answers over HTTP/2") {
  H2Server server;
  // One URL per curl: Debian 12's curl 7.88.1 fails to reuse a prior-knowledge connection for
  // a second URL, against nginx too ("Error in the HTTP2 framing layer"). h2load below puts
  // many streams on one connection.
  for (const auto& [path, expected] :
       {std::pair{"/hello", "hello\n2 200\n"}, std::pair{"/missing", "nope!\n2 404\n"}}) {
    Process curl({"curl", "--silent", "--show-error", "--max-time", "30", "--http2-prior-knowledge",
                  "--write-out", "%{http_version} %{http_code}\n", server.url(path)});
    CHECK(output_of(curl, 40s) == expected);
  }
  int completed = 0;
  REQUIRE(server.loop.call([&] { completed = server.completed; }));
  CHECK(completed == 2);
}

TEST_CASE("http2: 8 MiB POSTed to /echo come back byte-exact through the stream's windows") {
  H2Server server;
  test_support::TestDir dir;
  const std::string body = test_support::pattern(8 << 20, 7);
  std::ofstream(dir.path("body"), std::ios::binary) << body;
  Process curl({"curl", "--silent", "--show-error", "--max-time", "60", "--http2-prior-knowledge",
                "--data-binary", "@" + dir.path("body"), "--output", dir.path("echoed"),
                "--write-out", "%{http_version} %{http_code} %{size_download}\n",
                server.url("/echo")});
  CHECK(output_of(curl, 70s) == "2 200 8388608\n");
  std::ifstream in(dir.path("echoed"), std::ios::binary);
  const std::string echoed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(echoed == body);
}

TEST_CASE("http2: h2load's 2,000 requests over 4 connections x 20 streams all succeed") {
  H2Server server;
  Process h2load({"h2load", "-n", "2000", "-c", "4", "-m", "20", server.url("/hello")});
  const std::string out = output_of(h2load, 60s);
  INFO(out);
  CHECK(integration::contains(
      out, "requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored"));
  CHECK(integration::contains(out, "status codes: 2000 2xx"));
  int completed = 0;
  REQUIRE(server.loop.call([&] { completed = server.completed; }));
  CHECK(completed == 2000);
}
