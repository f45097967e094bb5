// Two engines wired back to back in memory: what one writes to its output the other is fed,
// in chunks of a chosen size, until neither makes progress. No sockets, no loop.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "tls/Engine.hpp"

namespace test_support {

class Collect final : public tls::Sink {
 public:
  std::string data;
  bool stop_after_each = false;  // behave like a paused application after every record

  bool plaintext(std::span<const std::byte> d) override {
    data.append(reinterpret_cast<const char*>(d.data()), d.size());
    return !stop_after_each;
  }
};

struct EnginePair {
  EnginePair(std::shared_ptr<const tls::Context> client_ctx,
             std::shared_ptr<const tls::Context> server_ctx,
             tls::EngineOptions client_options = {"localhost", 443, 0},
             tls::EngineOptions server_options = {})
      : client(std::move(client_ctx), client_options),
        server(std::move(server_ctx), server_options) {}

  tls::Engine client;
  tls::Engine server;
  Collect client_in;
  Collect server_in;
  tls::Want client_want = tls::Want::nothing;
  tls::Want server_want = tls::Want::nothing;
  std::size_t chunk = SIZE_MAX;  // bytes moved per transfer: 1 dribbles the ciphertext
  std::size_t rounds = 0;
  std::vector<std::byte> scratch = std::vector<std::byte>(16 * 1024);

  // Advances both engines and moves ciphertext until nothing moves (or max_rounds).
  void pump(std::size_t max_rounds = 1'000'000) {
    for (std::size_t i = 0; i < max_rounds; ++i, ++rounds) {
      client_want = client.advance(client_in, scratch).want;
      server_want = server.advance(server_in, scratch).want;
      const bool moved = transfer(client, server) | transfer(server, client);
      if (!moved) return;
    }
  }

  bool transfer(tls::Engine& from, tls::Engine& to) {
    const auto out = from.peek_output();
    if (out.empty()) return false;
    const std::size_t n = std::min(out.size(), chunk);
    to.feed(out.first(n));
    from.consume_output(n);
    return true;
  }

  // Moves everything `from` has produced into `to` without advancing either.
  void flush(tls::Engine& from, tls::Engine& to) {
    while (transfer(from, to)) {
    }
  }

  // close_notify both ways, as a clean end of the session (which keeps it resumable).
  void close_both() {
    client.close();
    server.close();
    pump();
  }

  bool handshake() {
    pump();
    return client.is_handshake_done() && server.is_handshake_done();
  }
};

inline std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

}  // namespace test_support
