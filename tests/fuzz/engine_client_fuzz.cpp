// Harness (b): a client tls::Engine that sent a real ClientHello, fed an arbitrary server
// flight in arbitrary chunkings. Input: 4 bytes of plan, then the flight.
// Properties: no crash, leak or hang; bounded output; the handshake never completes (no
// server flight can be signed for this client's fresh key share without the server's key and
// a transcript that matches).
#include <cstdlib>

#include "tests/fuzz/FuzzInput.hpp"
#include "tests/fuzz/FuzzTls.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tls::Engine client(fuzz::tls_contexts().client, {"localhost", 443, 0});
  fuzz::Discard sink;
  std::vector<std::byte> scratch(16 * 1024);
  client.advance(sink, scratch);  // the ClientHello, which this input answers
  fuzz::drain(client);
  fuzz::Input in(data, size);
  fuzz::feed_arbitrary<fuzz::Input, fuzz::Plan>(client, in, scratch);
  return 0;
}

// A real server flight, answering a real ClientHello of another client: the ServerHello
// parses, then the encrypted records no longer decrypt (the key shares differ), so the
// fuzzer starts from the message layouts a server really sends.
std::vector<fuzz::Seed> fuzz_seeds() {
  fuzz::Discard sink;
  std::vector<std::byte> scratch(16 * 1024);
  tls::Engine client(fuzz::tls_contexts().client, {"localhost", 443, 0});
  client.advance(sink, scratch);
  const auto hello = fuzz::drain(client);
  tls::Engine server(fuzz::tls_contexts().server);
  server.feed(hello);
  server.advance(sink, scratch);
  const auto flight = fuzz::drain(server);
  return {{"server-flight-whole", fuzz::with_plan(0x00000000, flight)},
          {"server-flight-small-pieces", fuzz::with_plan(0x00000002, flight)},
          {"server-flight-then-eof", fuzz::with_plan(0x80000003, flight)}};
}
