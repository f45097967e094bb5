// tlsreactor-h2-test-server: apps::http::Http2Connection behind the shared server options and
// the shared HTTP/2 ones (apps/common/Http2Options), with prior-knowledge h2c on a plain
// listener, for the tests that need a process of their own: its memory read from /proc, its
// stderr log lines, SIGTERM's drain. Routes: GET /hello ("hello\n"), GET /bytes/N (N bytes of
// the pattern i % 251, produced as the stream's window takes them), GET /never (no answer, a
// stream held open), POST /echo (the body back as it comes). Each stream's end is one stdout
// line, "closed stream=ID completed=0|1 produced=BYTES", so a test can see what a stream cost.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "apps/common/Http2Options.hpp"
#include "apps/common/ServerApp.hpp"
#include "apps/http/Http2Connection.hpp"

namespace {

using apps::http::Field;

class TestExchange final : public apps::http::Exchange {
 public:
  void on_request(const apps::http::RequestHead& head, apps::http::Response& response) override {
    response_ = &response;
    stream_ = head.stream;
    const Field octets{"content-type", "application/octet-stream"};
    if (head.method == "POST" && head.target == "/echo") {
      echo_ = true;
      response.head(200, std::span(&octets, 1), head.content_length);
    } else if (head.target == "/hello") {
      const Field text{"content-type", "text/plain"};
      response.head(200, std::span(&text, 1), 6);
      produce("hello\n");
      response.end();
    } else if (head.target == "/never") {
      // The stream stays open until the client or the connection ends it.
    } else if (head.target.starts_with("/bytes/") &&
               std::from_chars(head.target.data() + 7, head.target.data() + head.target.size(),
                               left_)
                       .ec == std::errc()) {
      response.head(200, std::span(&octets, 1), left_);
      bytes_ = true;
      on_writable();
    } else {
      response.head(404, {}, 0, false);
    }
  }
  void on_body(std::span<const std::byte> bytes) override {
    if (!echo_) return;
    produced_ += bytes.size();
    if (!response_->body(bytes)) response_->pause_body();
  }
  void on_body_end(std::span<const Field>) override {
    if (echo_) response_->end();
  }
  void on_writable() override {
    if (echo_) return response_->resume_body();
    if (!bytes_ || ended_) return;
    std::array<char, 16384> chunk;
    while (left_ > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, chunk.size()));
      for (std::size_t i = 0; i < n; ++i) chunk[i] = static_cast<char>((produced_ + i) % 251);
      left_ -= n;
      if (!produce(std::string_view(chunk.data(), n))) return;
    }
    ended_ = true;
    response_->end();
  }
  void on_closed(bool completed) override {
    std::cout << "closed stream=" << stream_ << " completed=" << completed
              << " produced=" << produced_ << std::endl;
  }

 private:
  bool produce(std::string_view bytes) {
    produced_ += bytes.size();
    return response_->body(std::as_bytes(std::span(bytes.data(), bytes.size())));
  }

  apps::http::Response* response_ = nullptr;
  std::uint32_t stream_ = 0;
  std::uint64_t left_ = 0;  // /bytes/N: bytes still to produce
  std::uint64_t produced_ = 0;
  bool bytes_ = false;  // a /bytes/N answer
  bool ended_ = false;
  bool echo_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  auto own = apps::http2_options();
  apps::Args args("tlsreactor-h2-test-server",
                  "HTTP/2 with prior knowledge on a plain listener, for the integration tests.",
                  apps::server_options("127.0.0.1:0", std::move(own)));
  if (!args.parse(argc, argv)) return args.exit_code();
  auto build = [](const apps::Args& options, std::string&) -> reactor::HandlerFactory {
    apps::Http2Settings settings;
    if (!apps::read_http2(options, settings)) return {};
    return [limits = settings.limits]() -> std::unique_ptr<reactor::Handler> {
      return std::make_unique<apps::http::Http2Connection>(
          [] { return std::make_unique<TestExchange>(); }, limits);
    };
  };
  return apps::serve(args, "tlsreactor-h2-test-server", build, {"h2"});
}
