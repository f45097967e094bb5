#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "apps/proxy/ProxyHeader.hpp"

namespace {

using namespace std::string_view_literals;
using apps::proxy::ProxyHeaderParser;
using Status = ProxyHeaderParser::Status;

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// Feeds `input` in pieces of `step` bytes; returns the final result with `consumed` counted
// over the whole input.
ProxyHeaderParser::Result feed_in_steps(ProxyHeaderParser& parser, std::string_view input,
                                        std::size_t step) {
  ProxyHeaderParser::Result total;
  for (std::size_t at = 0; at < input.size(); at += step) {
    const auto piece = input.substr(at, step);
    const auto r = parser.feed(bytes(piece));
    total.status = r.status;
    total.consumed += r.consumed;
    if (r.status != Status::incomplete) break;
  }
  return total;
}

std::string v2(unsigned char version_command, unsigned char family, std::string_view block) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h.push_back(static_cast<char>(version_command));
  h.push_back(static_cast<char>(family));
  h.push_back(static_cast<char>(block.size() >> 8));
  h.push_back(static_cast<char>(block.size() & 0xFF));
  h.append(block);
  return h;
}

// 203.0.113.7:51234 -> 192.0.2.1:443
const std::string tcp4_block("\xCB\x00\x71\x07\xC0\x00\x02\x01\xC8\x22\x01\xBB", 12);

std::string tcp6_block() {
  std::string b(16, '\0');
  b[0] = '\x20', b[1] = '\x01', b[2] = '\x0d', b[3] = '\xb8', b[15] = '\x07';  // 2001:db8::7
  std::string d(16, '\0');
  d[15] = '\x01';                                     // ::1
  return b + d + std::string("\x13\x88\x01\xBB", 4);  // 5000 -> 443
}

}  // namespace

TEST_CASE("PROXY v1 TCP4 gives the client address and leaves the stream's bytes") {
  const std::string input = "PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n\x16\x03\x01";
  for (std::size_t step : {std::size_t{1}, std::size_t{5}, input.size()}) {
    CAPTURE(step);
    ProxyHeaderParser parser;
    const auto r = feed_in_steps(parser, input, step);
    REQUIRE(r.status == Status::complete);
    CHECK(r.consumed == input.size() - 3);
    CHECK(parser.header().version == 1);
    CHECK_FALSE(parser.header().local);
    CHECK(parser.header().source.to_string() == "203.0.113.7:51234");
    CHECK(parser.header().destination.to_string() == "192.0.2.1:443");
  }
}

TEST_CASE("PROXY v1 TCP6 and UNKNOWN") {
  ProxyHeaderParser six;
  CHECK(six.feed(bytes("PROXY TCP6 2001:db8::7 ::1 5000 443\r\n")).status == Status::complete);
  CHECK(six.header().source.to_string() == "[2001:db8::7]:5000");
  ProxyHeaderParser unknown;
  CHECK(unknown.feed(bytes("PROXY UNKNOWN ffff::1 whatever\r\n")).status == Status::complete);
  CHECK(unknown.header().local);
}

TEST_CASE("malformed PROXY v1 headers fail with a reason") {
  const struct {
    std::string_view input;
    std::string_view error;
  } cases[] = {
      {"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY v1: 'TCP5' is not TCP4, TCP6 or UNKNOWN"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
       "PROXY v1: expected 'PROXY TCP4 SRC DST SRCPORT DSTPORT', got 5 fields"},
      {"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
       "PROXY v1: expected 'PROXY TCP4 SRC DST SRCPORT DSTPORT', got 7 fields"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "PROXY v1: a port is not 0..65535"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", "PROXY v1: a port is not 0..65535"},
      {"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "PROXY v1: addresses are not IPv4"},
      {"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "PROXY v1: addresses are not IPv6"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "PROXY v1: a LF without CR"},
      {"PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n"sv, "PROXY v1: a control byte in the header line"},
      {"PROXY\r\n", "not a PROXY protocol header"},
      {"GET / HTTP/1.1\r\n", "not a PROXY protocol header"},
      {"\x16\x03\x01\x02\x00", "not a PROXY protocol header"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    ProxyHeaderParser parser;
    const auto r = parser.feed(bytes(c.input));
    CHECK(r.status == Status::failed);
    CHECK(parser.error() == c.error);
  }
}

TEST_CASE("a PROXY v1 line of 107 bytes is accepted and one byte more is refused") {
  // "PROXY UNKNOWN " is 14 bytes; pad to exactly 107 with the CRLF.
  const std::string longest = "PROXY UNKNOWN " + std::string(107 - 14 - 2, 'x') + "\r\n";
  REQUIRE(longest.size() == 107);
  ProxyHeaderParser ok;
  CHECK(ok.feed(bytes(longest)).status == Status::complete);
  const std::string too_long = "PROXY UNKNOWN " + std::string(107 - 14 - 1, 'x') + "\r\n";
  ProxyHeaderParser refused;
  const auto r = refused.feed(bytes(too_long));
  CHECK(r.status == Status::failed);
  CHECK(r.consumed == 107);
  CHECK(refused.error() == "PROXY v1: no CRLF within 107 bytes");
}

TEST_CASE("a truncated PROXY header stays incomplete and takes every byte") {
  for (const std::string& cut : {std::string("PROXY TCP4 1.2.3.4 5.6"),
                                 v2(0x21, 0x11, tcp4_block).substr(0, 20), std::string("\r\n\r")}) {
    ProxyHeaderParser parser;
    const auto r = parser.feed(bytes(cut));
    CHECK(r.status == Status::incomplete);
    CHECK(r.consumed == cut.size());
    CHECK(parser.buffered() == cut.size());
  }
}

TEST_CASE("PROXY v2 TCP4 and TCP6 give the client address, byte by byte or at once") {
  const std::string four = v2(0x21, 0x11, tcp4_block) + "rest";
  for (std::size_t step : {std::size_t{1}, four.size()}) {
    ProxyHeaderParser parser;
    const auto r = feed_in_steps(parser, four, step);
    REQUIRE(r.status == Status::complete);
    CHECK(r.consumed == four.size() - 4);
    CHECK(parser.header().version == 2);
    CHECK(parser.header().source.to_string() == "203.0.113.7:51234");
    CHECK(parser.header().destination.to_string() == "192.0.2.1:443");
  }
  ProxyHeaderParser six;
  CHECK(six.feed(bytes(v2(0x21, 0x21, tcp6_block()))).status == Status::complete);
  CHECK(six.header().source.to_string() == "[2001:db8::7]:5000");
  CHECK(six.header().destination.to_string() == "[::1]:443");
}

TEST_CASE("PROXY v2 LOCAL, UNSPEC and UNIX keep the connection's own address, TLVs skipped") {
  // A TLV (type 0x04 NOOP, 3 bytes) after the addresses.
  const std::string tlv("\x04\x00\x03xyz", 6);
  const struct {
    std::string header;
    bool local;
  } cases[] = {
      {v2(0x20, 0x00, ""), true},
      {v2(0x20, 0x11, tcp4_block), true},  // LOCAL ignores an address block
      {v2(0x21, 0x00, ""), true},
      {v2(0x21, 0x31, std::string(216, '\0')), true},
      {v2(0x21, 0x11, tcp4_block + tlv), false},
  };
  for (const auto& c : cases) {
    ProxyHeaderParser parser;
    const auto r = parser.feed(bytes(c.header));
    REQUIRE_MESSAGE(r.status == Status::complete, parser.error());
    CHECK(r.consumed == c.header.size());
    CHECK(parser.header().local == c.local);
  }
}

TEST_CASE("malformed and oversized PROXY v2 headers fail with a reason") {
  const struct {
    std::string input;
    std::string_view error;
  } cases[] = {
      {v2(0x11, 0x11, tcp4_block), "PROXY v2: version nibble 1, not 2"},
      {v2(0x22, 0x11, tcp4_block), "PROXY v2: unknown command 2"},
      {v2(0x21, 0x41, tcp4_block), "PROXY v2: unknown address family 4"},
      {v2(0x21, 0x12, tcp4_block), "PROXY v2: INET over transport 2, not STREAM (TCP)"},
      {v2(0x21, 0x11, tcp4_block.substr(0, 8)),
       "PROXY v2: INET needs 12 address bytes, the header has 8"},
      {v2(0x21, 0x21, tcp4_block), "PROXY v2: INET6 needs 36 address bytes, the header has 12"},
      {v2(0x21, 0x11, tcp4_block + std::string("\x04\x00", 2)), "PROXY v2: a truncated TLV"},
      {v2(0x21, 0x11, tcp4_block + std::string("\x04\x00\x09xy", 5)),
       "PROXY v2: a TLV longer than the header"},
      {v2(0x21, 0x11, tcp4_block + std::string(5000, '\0')),
       "PROXY v2: a header of 5028 bytes is over the limit of 4096"},
      {std::string("\r\n\r\n\0\r\nQUIX", 12), "not a PROXY protocol header"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.error);
    ProxyHeaderParser parser;
    const auto r = parser.feed(bytes(c.input));
    CHECK(r.status == Status::failed);
    CHECK(parser.error() == c.error);
    CHECK(parser.feed(bytes("more")).consumed == 0);  // nothing more after a failure
  }
}

TEST_CASE("an oversized PROXY v2 header is refused from its 16 fixed bytes, before its body") {
  ProxyHeaderParser parser(64);
  const std::string header = v2(0x21, 0x11, tcp4_block + std::string(100, '\0'));
  const auto r = parser.feed(bytes(header));
  CHECK(r.status == Status::failed);
  CHECK(r.consumed == 16);
}
