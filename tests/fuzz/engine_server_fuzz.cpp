// Harness (a): a server tls::Engine fed arbitrary ciphertext in arbitrary chunkings.
// Input: 4 bytes of plan (chunking style and sizes, EOF or not), then the ciphertext.
// Properties: no crash, leak or hang; bounded output per step; and no handshake completes,
// since nobody holding the keys wrote the client's Finished.
#include <cstdlib>

#include "tests/fuzz/FuzzInput.hpp"
#include "tests/fuzz/FuzzTls.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tls::Engine server(fuzz::tls_contexts().server);
  fuzz::Input in(data, size);
  std::vector<std::byte> scratch(16 * 1024);
  fuzz::feed_arbitrary<fuzz::Input, fuzz::Plan>(server, in, scratch);
  return 0;
}

// A real ClientHello (what a client engine sends first), delivered whole and dribbled.
std::vector<fuzz::Seed> fuzz_seeds() {
  tls::Engine client(fuzz::tls_contexts().client, {"localhost", 443, 0});
  fuzz::Discard sink;
  std::vector<std::byte> scratch(16 * 1024);
  client.advance(sink, scratch);
  const auto hello = fuzz::drain(client);
  return {{"client-hello-whole", fuzz::with_plan(0x00000000, hello)},
          {"client-hello-dribbled", fuzz::with_plan(0x00000001, hello)},
          {"client-hello-then-eof", fuzz::with_plan(0x80000002, hello)}};
}
