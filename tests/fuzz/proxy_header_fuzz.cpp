// Harness (e): the PROXY protocol header parser, fed what a trusted load balancer (or anyone
// pretending to be one) puts before the TLS bytes. Input: 4 bytes of plan, then the stream.
// Properties: no crash, leak or hang; the same outcome (status, consumed bytes, header or
// error) whether the stream arrives whole or in the plan's pieces; a complete header never
// took more than its version's bound, a v1 one never more than 107 bytes; nothing is taken
// after the end.
#include <cstdlib>
#include <string>

#include "apps/proxy/ProxyHeader.hpp"
#include "tests/fuzz/FuzzInput.hpp"

namespace {

using apps::proxy::ProxyHeaderParser;

struct Outcome {
  ProxyHeaderParser::Status status = ProxyHeaderParser::Status::incomplete;
  std::size_t taken = 0;  // bytes of the stream that belonged to the header
  std::string said;       // the header or the error

  bool operator==(const Outcome&) const = default;
};

template <typename Chunk>
Outcome parse(std::span<const std::byte> stream, Chunk chunk) {
  ProxyHeaderParser parser;
  Outcome out;
  while (!stream.empty() && out.status == ProxyHeaderParser::Status::incomplete) {
    const std::size_t n = std::min(stream.size(), chunk());
    const auto result = parser.feed(stream.first(n));
    if (result.consumed > n) std::abort();
    if (result.status == ProxyHeaderParser::Status::incomplete && result.consumed != n)
      std::abort();  // an incomplete header takes every byte it is given
    out.status = result.status;
    out.taken += result.consumed;
    stream = stream.subspan(n);
  }
  if (out.status == ProxyHeaderParser::Status::complete) {
    const auto& h = parser.header();
    if (h.version == 1 && out.taken > ProxyHeaderParser::v1_max_bytes) std::abort();
    if (h.version == 2 && out.taken > ProxyHeaderParser::default_v2_max_bytes) std::abort();
    // Nothing more is taken once the header is complete.
    const std::byte more[1] = {std::byte{'x'}};
    if (parser.feed(more).consumed != 0) std::abort();
    out.said = std::to_string(h.version) +
               (h.local ? " local" : " " + h.source.to_string() + " " + h.destination.to_string());
  } else if (out.status == ProxyHeaderParser::Status::failed) {
    out.said = parser.error();
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  fuzz::Plan plan(in.u32());
  const auto stream = in.rest();
  const Outcome whole = parse(stream, [] { return SIZE_MAX; });
  const Outcome pieces = parse(stream, [&plan] { return plan.chunk(); });
  // A failure may be noticed at a different byte in pieces only if the error text says so
  // identically: the parser decides byte by byte, so everything must agree.
  if (!(whole == pieces)) std::abort();
  return 0;
}

std::vector<fuzz::Seed> fuzz_seeds() {
  const auto seed = fuzz::text_seed;
  // v2: signature, version 2 / PROXY, TCP over IPv4, 12 bytes of addresses and ports.
  const std::string v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);
  const std::string v2_tcp4 = v2_signature + std::string("\x21\x11\x00\x0c", 4) +
                              std::string("\xcb\x00\x71\x07\x7f\x00\x00\x01\xc8\x32\x20\xfb", 12);
  const std::string v2_local = v2_signature + std::string("\x20\x00\x00\x00", 4);
  const std::string v2_tcp6_tlv = v2_signature + std::string("\x21\x21\x00\x27", 4) +
                                  std::string(16, '\x20') + std::string(15, '\0') +
                                  std::string("\x01\xc8\x32\x20\xfb", 5) +
                                  std::string("\x04\x00\x03\x61\x62\x63", 6);
  return {
      seed("v1-tcp4", 0, "PROXY TCP4 203.0.113.7 127.0.0.1 51234 8443\r\n\x16\x03\x01"),
      seed("v1-tcp6", 1, "PROXY TCP6 2001:db8::7 ::1 51234 8443\r\n"),
      seed("v1-unknown", 2, "PROXY UNKNOWN\r\n"),
      seed("v1-bad", 0, "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"),
      seed("v2-tcp4", 0, v2_tcp4 + "\x16\x03\x01"),
      seed("v2-tcp4-dribbled", 1, v2_tcp4),
      seed("v2-local", 2, v2_local),
      seed("v2-tcp6-tlv", 3, v2_tcp6_tlv),
      seed("not-proxy", 0, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
  };
}
