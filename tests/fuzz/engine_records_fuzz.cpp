// Harness (c), structure-aware: a real handshake between a client and a server tls::Engine,
// then application data both ways, while the records in flight are mutated: a bit flipped,
// truncated, duplicated, held back and sent after the next one (reordered), or split in two.
// Input: one operation per record (2 bytes: kind, parameter); records beyond the input pass.
// Properties: no crash, leak or hang; whatever plaintext a side delivers is a prefix of what
// the other side wrote (AEAD and sequence numbers must catch every mutation that changes it);
// and with no mutation at all the handshake completes and every byte arrives.
#include <cstdlib>
#include <deque>
#include <string_view>

#include "tests/fuzz/FuzzInput.hpp"
#include "tests/fuzz/FuzzTls.hpp"

namespace {

enum Op : std::uint8_t { pass, flip, cut, twice, hold, split, kinds };

// One direction of the wire: the sender's output cut into whole records, mutated, delivered.
class Wire {
 public:
  Wire(fuzz::Input& ops, int& mutations) : ops_(ops), mutations_(mutations) {}

  // Moves `from`'s new output to `to`; true when anything was delivered.
  bool carry(tls::Engine& from, tls::Engine& to) {
    const auto out = fuzz::drain(from);
    pending_.insert(pending_.end(), out.begin(), out.end());
    bool moved = false;
    while (pending_.size() >= 5) {
      const std::size_t length = 5 + ((std::to_integer<std::size_t>(pending_[3]) << 8) |
                                      std::to_integer<std::size_t>(pending_[4]));
      if (pending_.size() < length) break;
      std::vector<std::byte> record(pending_.begin(), pending_.begin() + length);
      pending_.erase(pending_.begin(), pending_.begin() + length);
      deliver(std::move(record), to);
      moved = true;
    }
    if (held_ && (pending_.empty() || ops_.empty())) {
      to.feed(*held_);
      held_.reset();
      moved = true;
    }
    return moved;
  }

 private:
  void deliver(std::vector<std::byte> record, tls::Engine& to) {
    const auto kind = static_cast<Op>(ops_.byte() % kinds);
    const std::uint8_t parameter = ops_.byte();
    if (kind != pass) ++mutations_;
    switch (kind) {
      case flip:
        record[parameter % record.size()] ^=
            std::byte{static_cast<std::uint8_t>(1 + parameter % 255)};
        break;
      case cut:
        record.resize(parameter % record.size());
        break;
      case twice:
        to.feed(record);
        break;
      case hold:
        if (!held_) {
          held_ = std::move(record);
          return;
        }
        break;
      case split: {
        const std::size_t at = parameter % record.size();
        to.feed(std::span(record).first(at));
        record.erase(record.begin(), record.begin() + static_cast<std::ptrdiff_t>(at));
        break;
      }
      default:
        break;
    }
    to.feed(record);
    if (held_) {  // the held record goes after the one that overtook it
      to.feed(*held_);
      held_.reset();
    }
  }

  fuzz::Input& ops_;
  int& mutations_;
  std::vector<std::byte> pending_;
  std::optional<std::vector<std::byte>> held_;
};

bool is_prefix(std::string_view part, std::string_view whole) {
  return whole.starts_with(part);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& contexts = fuzz::tls_contexts();
  fuzz::Input ops(data, size);
  int mutations = 0;
  tls::Engine client(contexts.client, {"localhost", 443, 0});
  tls::Engine server(contexts.server);
  fuzz::Discard client_in, server_in;
  std::vector<std::byte> scratch(16 * 1024);
  Wire to_server(ops, mutations), to_client(ops, mutations);

  const std::string request(3000, 'q');
  const std::string response(40000, 'r');  // three records
  const auto as_bytes = [](const std::string& s) { return std::as_bytes(std::span(s)); };
  client.write(as_bytes(request));
  server.write(as_bytes(response));
  for (int round = 0; round < 200; ++round) {
    client.advance(client_in, scratch);
    server.advance(server_in, scratch);
    const bool to_s = to_server.carry(client, server);
    const bool to_c = to_client.carry(server, client);
    const bool moved = to_s || to_c;
    if (!moved) break;
  }
  if (!is_prefix(server_in.data, request) || !is_prefix(client_in.data, response)) std::abort();
  if (mutations == 0 && (server_in.data != request || client_in.data != response)) std::abort();
  return 0;
}

std::vector<fuzz::Seed> fuzz_seeds() {
  auto ops = [](std::initializer_list<std::uint8_t> bytes) {
    return std::vector<std::uint8_t>(bytes);
  };
  return {
      {"all-pass", ops({})},
      {"flip-in-client-hello", ops({flip, 40})},
      {"truncate-server-flight", ops({pass, 0, cut, 200})},
      {"duplicate-finished", ops({pass, 0, pass, 0, pass, 0, twice, 0})},
      {"reorder-app-data", ops({pass, 0, pass, 0, pass, 0, pass, 0, hold, 0, pass, 0})},
      {"split-everything", ops({split, 3, split, 5, split, 1, split, 9, split, 100, split, 7})}};
}
