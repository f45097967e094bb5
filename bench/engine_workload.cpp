// Benchmark workload (not a test) for the instruction-count regression metric: a fixed amount of
// TLS work through two tls::Engines wired back to back in memory (one thread, no sockets, no
// loop), meant to run under `valgrind --tool=callgrind --collect-atstart=no`. bench/callgrind.sh
// runs it and prints the table; run that, not this.
//
// Usage: bench-engine-workload [--handshakes N] [--resumed N] [--messages N] [--records N]
//   --handshakes N  full TLS 1.3 handshakes, ECDSA P-256 and x25519 (default 40)
//   --resumed N     resumed handshakes, each offering the previous one's ticket (40)
//   --messages N    64-byte echo round trips on one connection: the client writes, the
//                   server's sink writes it back, the client reads it (1000)
//   --records N     16 KiB records written by the server; nobody reads them (200)
//
// Every phase runs twice: first with callgrind collecting only inside the server engine's
// calls (construction, feed, advance, peek_output/consume_output, destruction), then over both
// engines. Each run of a phase starts with CALLGRIND_ZERO_STATS and ends with
// CALLGRIND_DUMP_STATS_AT("<scope> <phase> <count>"), so each dump holds that phase alone.
// Warm-up handshakes run first and are not counted: one-time initialisation stays out.
// Every handshake is checked to be full or resumed as its phase says; every echo to come back.
// Natively (without valgrind) the client requests do nothing and it just runs the work.
#include <valgrind/callgrind.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tls/DevCert.hpp"
#include "tls/Engine.hpp"

namespace {

enum class Scope { server, both };
Scope scope = Scope::server;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench-engine-workload: %s\n", what.c_str());
  std::exit(1);
}

// Runs `call` with collection on when the scope is the server alone (in Scope::both the whole
// phase is collected already).
template <typename Call>
void server_side(Call&& call) {
  if (scope == Scope::server) CALLGRIND_TOGGLE_COLLECT;
  call();
  if (scope == Scope::server) CALLGRIND_TOGGLE_COLLECT;
}

// The server's application: writes back whatever arrives.
class Echo final : public tls::Sink {
 public:
  tls::Engine* engine = nullptr;
  bool plaintext(std::span<const std::byte> data) override {
    engine->write(data);
    return true;
  }
};

class Count final : public tls::Sink {
 public:
  std::size_t bytes = 0;
  bool plaintext(std::span<const std::byte> data) override {
    bytes += data.size();
    return true;
  }
};

class Pair {
 public:
  Pair(std::shared_ptr<const tls::Context> client_ctx,
       const std::shared_ptr<const tls::Context>& server_ctx) {
    client_.emplace(std::move(client_ctx), tls::EngineOptions{"localhost", 443, 0});
    server_side([&] { server_.emplace(server_ctx); });
    echo_.engine = &*server_;
  }
  ~Pair() {
    server_side([&] { server_.reset(); });
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;

  void handshake() {
    pump();
    if (!client_->is_handshake_done() || !server_->is_handshake_done())
      die("handshake failed: " + server_->error().message() + client_->error().message());
  }
  bool resumed() const { return server_->info().resumed; }

  // One round trip of `message`: the client writes it, the server echoes it back.
  void echo(std::span<const std::byte> message) {
    received_.bytes = 0;
    client_->write(message);
    pump();
    if (received_.bytes != message.size()) die("the echo did not come back whole");
  }

  // The server writes one record; its ciphertext is taken and dropped.
  void record(std::span<const std::byte> data) {
    server_side([&] {
      server_->write(data);
      server_->advance(echo_, scratch_);
      for (auto out = server_->peek_output(); !out.empty(); out = server_->peek_output())
        server_->consume_output(out.size());
    });
  }

  // The client's close_notify (kept from the server), which keeps its session resumable.
  void close_client() {
    client_->close();
    client_->advance(received_, scratch_);
  }

 private:
  // Moves ciphertext both ways until nothing moves. As a transport does, an engine is advanced
  // when input arrived for it (the client also first, as it speaks first): no idle calls.
  void pump() {
    bool client_fed = true;
    for (int round = 0; round < 64; ++round) {
      if (client_fed) client_->advance(received_, scratch_);
      bool server_fed = false;
      for (auto out = client_->peek_output(); !out.empty(); out = client_->peek_output()) {
        server_side([&] { server_->feed(out); });
        client_->consume_output(out.size());
        server_fed = true;
      }
      if (server_fed) server_side([&] { server_->advance(echo_, scratch_); });
      client_fed = false;
      while (true) {
        std::span<const std::byte> out;
        server_side([&] { out = server_->peek_output(); });
        if (out.empty()) break;
        client_->feed(out);
        server_side([&] { server_->consume_output(out.size()); });
        client_fed = true;
      }
      if (!client_fed) return;
    }
    die("the engines kept talking");
  }

  std::optional<tls::Engine> client_;
  std::optional<tls::Engine> server_;
  Echo echo_;
  Count received_;
  std::vector<std::byte> scratch_ = std::vector<std::byte>(tls::Engine::max_record);
};

struct Contexts {
  std::shared_ptr<const tls::Context> server;
  std::shared_ptr<const tls::Context> fresh;     // a client that never resumes
  std::shared_ptr<const tls::Context> resuming;  // a client that caches and offers its tickets
};

Contexts contexts() {
  std::string dir = (std::filesystem::temp_directory_path() / "engine-workload-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) die("mkdtemp");
  const auto files = tls::dev::write(tls::dev::generate({"localhost"}), dir);
  if (!files) die(files.error().message());
  tls::ServerConfig server;
  server.certificates = {files->leaf};
  tls::ClientConfig client;
  client.ca_file = files->ca_file;
  const auto must = [](reactor::Result<std::shared_ptr<const tls::Context>> made) {
    if (!made) die(made.error().message());
    return *made;
  };
  Contexts c;
  c.server = must(tls::Context::server(server));
  c.resuming = must(tls::Context::client(client));
  client.session_resumption = false;
  c.fresh = must(tls::Context::client(client));
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);  // the Contexts hold everything in memory now
  return c;
}

void full_handshakes(const Contexts& c, int count) {
  for (int i = 0; i < count; ++i) {
    Pair p(c.fresh, c.server);
    p.handshake();
    if (p.resumed()) die("a full handshake resumed");
  }
}

void resumed_handshakes(const Contexts& c, int count) {
  for (int i = 0; i < count; ++i) {
    Pair p(c.resuming, c.server);
    p.handshake();
    if (!p.resumed()) die("a resumption was refused");
    p.close_client();
  }
}

struct Options {
  int handshakes = 40;
  int resumed = 40;
  int messages = 1000;
  int records = 200;
};

Options parse(int argc, char** argv) {
  Options o;
  const std::array<std::pair<const char*, int*>, 4> flags{{{"--handshakes", &o.handshakes},
                                                           {"--resumed", &o.resumed},
                                                           {"--messages", &o.messages},
                                                           {"--records", &o.records}}};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto flag =
        std::find_if(flags.begin(), flags.end(), [&](const auto& f) { return arg == f.first; });
    if (flag == flags.end() || i + 1 >= argc) die("unknown option or missing value: " + arg);
    char* end = nullptr;
    const long v = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || v < 1 || v > 1'000'000) die(arg + " wants a count from 1");
    *flag->second = static_cast<int>(v);
  }
  return o;
}

// One phase in the current scope, in a dump of its own named "<scope> <phase> <count>".
template <typename Work>
void phase(const char* name, int count, Work&& work) {
  const std::string label = std::string(scope == Scope::server ? "server " : "both ") + name + " " +
                            std::to_string(count);
  CALLGRIND_ZERO_STATS;
  if (scope == Scope::both) CALLGRIND_TOGGLE_COLLECT;
  work();
  if (scope == Scope::both) CALLGRIND_TOGGLE_COLLECT;
  CALLGRIND_DUMP_STATS_AT(label.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const Contexts c = contexts();
  const std::string text(64, 'm');
  const auto message = std::as_bytes(std::span(text));
  const std::vector<std::byte> record(tls::Engine::max_record, std::byte{'r'});

  // Warm-up, not counted (each phase starts from zeroed counters): OpenSSL's first fetches of
  // its algorithms, the first ticket in the client's cache.
  full_handshakes(c, 3);
  Pair seed(c.resuming, c.server);
  seed.handshake();
  seed.close_client();
  resumed_handshakes(c, 3);
  Pair established(c.fresh, c.server);
  established.handshake();
  for (int i = 0; i < 16; ++i) established.echo(message);
  // Its own connection: the records are dropped unread, so its client could not read again.
  Pair writer(c.fresh, c.server);
  writer.handshake();
  for (int i = 0; i < 4; ++i) writer.record(record);

  for (const Scope s : {Scope::server, Scope::both}) {
    scope = s;
    phase("full_handshake", o.handshakes, [&] { full_handshakes(c, o.handshakes); });
    phase("resumed_handshake", o.resumed, [&] { resumed_handshakes(c, o.resumed); });
    phase("echo_round_trip", o.messages, [&] {
      for (int i = 0; i < o.messages; ++i) established.echo(message);
    });
    phase("record_16k", o.records, [&] {
      for (int i = 0; i < o.records; ++i) writer.record(record);
    });
  }
  std::printf("bench-engine-workload: %d full, %d resumed handshakes, %d echoes, %d records\n",
              o.handshakes, o.resumed, o.messages, o.records);
  return 0;
}
