// The TLS contexts every engine harness shares: a development certificate made once per
// process, a server Context serving it and a client Context that verifies against its CA.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "tls/DevCert.hpp"
#include "tls/Engine.hpp"

namespace fuzz {

struct TlsContexts {
  std::shared_ptr<const tls::Context> server;
  std::shared_ptr<const tls::Context> client;
};

inline const TlsContexts& tls_contexts() {
  static const TlsContexts contexts = [] {
    std::string dir_template =
        (std::filesystem::temp_directory_path() / "fuzz-tls-XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr) throw std::runtime_error("mkdtemp");
    const auto files = tls::dev::write(tls::dev::generate({"localhost"}), dir_template);
    if (!files) throw std::runtime_error(files.error().message());
    tls::ServerConfig server;
    server.certificates = {files->leaf};
    tls::ClientConfig client;
    client.ca_file = files->ca_file;
    client.session_resumption = false;
    TlsContexts out;
    auto made_server = tls::Context::server(server);
    if (!made_server) throw std::runtime_error(made_server.error().message());
    auto made_client = tls::Context::client(client);
    if (!made_client) throw std::runtime_error(made_client.error().message());
    out.server = *made_server;
    out.client = *made_client;
    // The contexts hold the certificate and key in memory now.
    std::error_code ignored;
    std::filesystem::remove_all(dir_template, ignored);
    return out;
  }();
  return contexts;
}

class Discard final : public tls::Sink {
 public:
  std::string data;
  bool plaintext(std::span<const std::byte> d) override {
    data.append(reinterpret_cast<const char*>(d.data()), d.size());
    return true;
  }
};

// Everything `engine` produced, taken out of it.
inline std::vector<std::byte> drain(tls::Engine& engine) {
  std::vector<std::byte> out;
  for (auto chunk = engine.peek_output(); !chunk.empty(); chunk = engine.peek_output()) {
    out.insert(out.end(), chunk.begin(), chunk.end());
    engine.consume_output(chunk.size());
  }
  return out;
}

// Feeds `bytes` to `engine` in the plan's chunks, advancing after each; checks that the
// engine's output per step stays bounded (it answers, it never amplifies without limit).
template <typename Plan>
void feed_in_chunks(tls::Engine& engine, std::span<const std::byte> bytes, Plan& plan,
                    Discard& sink, std::span<std::byte> scratch) {
  while (!bytes.empty() && !engine.is_closed()) {
    const std::size_t n = std::min(bytes.size(), plan.chunk());
    engine.feed(bytes.first(n));
    bytes = bytes.subspan(n);
    engine.advance(sink, scratch);
    if (drain(engine).size() > 64 * 1024) std::abort();
  }
}

// The body of harnesses (a) and (b): the rest of `in` (after a 4-byte plan) goes to `engine`
// in the plan's chunks, then an EOF when the plan's top bit says so. No handshake may complete
// and no plaintext may come out: nobody holding the peer's keys wrote this input.
template <typename Input, typename Plan>
void feed_arbitrary(tls::Engine& engine, Input& in, std::span<std::byte> scratch) {
  const std::uint32_t seed = in.u32();
  Plan plan(seed);
  Discard sink;
  feed_in_chunks(engine, in.rest(), plan, sink, scratch);
  if (seed & 0x80000000u) {
    engine.feed_eof();
    engine.advance(sink, scratch);
    drain(engine);
  }
  if (engine.is_handshake_done() || !sink.data.empty()) std::abort();
}

}  // namespace fuzz
