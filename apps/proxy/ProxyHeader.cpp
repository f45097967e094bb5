#include "apps/proxy/ProxyHeader.hpp"

#include <netinet/in.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace apps::proxy {
namespace {

constexpr std::string_view v1_signature = "PROXY ";
constexpr std::string_view v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::size_t v2_fixed = 16;

// The v2 address families (high nibble of byte 13) and the address block each one carries.
struct V2Family {
  unsigned code;
  std::size_t block;  // bytes of addresses and ports
  int af;             // AF_INET / AF_INET6, or 0 when the addresses cannot replace ours
  const char* name;
};
constexpr std::array<V2Family, 4> v2_families{{
    {0x0, 0, 0, "UNSPEC"},
    {0x1, 12, AF_INET, "INET"},
    {0x2, 36, AF_INET6, "INET6"},
    {0x3, 216, 0, "UNIX"},
}};

bool prefix_of(std::string_view have, std::string_view signature) {
  return have.size() <= signature.size() && signature.substr(0, have.size()) == have;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> out;
  while (true) {
    const auto space = line.find(' ');
    out.push_back(line.substr(0, space));
    if (space == std::string_view::npos) return out;
    line.remove_prefix(space + 1);
  }
}

// A decimal port as v1 writes it: 0..65535, no sign, no leading zeros.
std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535 ||
      (text.size() > 1 && text.front() == '0'))
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// An address from the v2 block: `ip` points at `ip_len` network-order bytes, `port` at two.
reactor::Address v2_address(int af, const char* ip, const char* port) {
  sockaddr_storage storage{};
  if (af == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    std::memcpy(&v4->sin_addr, ip, 4);
    std::memcpy(&v4->sin_port, port, 2);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    std::memcpy(&v6->sin6_addr, ip, 16);
    std::memcpy(&v6->sin6_port, port, 2);
  }
  return reactor::Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage));
}

}  // namespace

ProxyHeaderParser::Result ProxyHeaderParser::feed(std::span<const std::byte> bytes) {
  if (status_ != Status::incomplete) return {status_, 0};
  std::size_t taken = 0;
  while (taken < bytes.size()) {
    buffer_.push_back(static_cast<char>(bytes[taken++]));
    if (step()) break;
  }
  return {status_, taken};
}

bool ProxyHeaderParser::step() {
  const std::string_view have = buffer_;
  if (version_ == 0) {
    if (prefix_of(have, v1_signature)) {
      if (have.size() == v1_signature.size()) version_ = 1;
      return false;
    }
    if (prefix_of(have, v2_signature)) {
      if (have.size() == v2_signature.size()) version_ = 2;
      return false;
    }
    return fail("not a PROXY protocol header");
  }
  if (version_ == 1) {
    if (have.back() == '\n') return parse_v1();
    if (have.size() >= v1_max_bytes)
      return fail("PROXY v1: no CRLF within " + std::to_string(v1_max_bytes) + " bytes");
    return false;
  }
  if (have.size() == v2_fixed) {
    const auto length = static_cast<std::size_t>((static_cast<unsigned char>(have[14]) << 8) |
                                                 static_cast<unsigned char>(have[15]));
    v2_total_ = v2_fixed + length;
    if (v2_total_ > max_v2_bytes_)
      return fail("PROXY v2: a header of " + std::to_string(v2_total_) +
                  " bytes is over the limit of " + std::to_string(max_v2_bytes_));
  }
  if (have.size() >= v2_fixed && have.size() == v2_total_) return parse_v2();
  return false;
}

bool ProxyHeaderParser::parse_v1() {
  std::string_view line = buffer_;
  if (line.size() < 2 || line[line.size() - 2] != '\r') return fail("PROXY v1: a LF without CR");
  line.remove_suffix(2);
  for (const char c : line)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      return fail("PROXY v1: a control byte in the header line");
  const auto fields = split_spaces(line);
  header_.version = 1;
  const std::string_view protocol = fields.size() > 1 ? fields[1] : std::string_view();
  // UNKNOWN: the balancer could not tell (or it is its health check); whatever follows is
  // ignored, as the spec says.
  if (protocol == "UNKNOWN") {
    header_.local = true;
    status_ = Status::complete;
    return true;
  }
  const int af = protocol == "TCP4" ? AF_INET : protocol == "TCP6" ? AF_INET6 : 0;
  if (af == 0)
    return fail("PROXY v1: '" + std::string(protocol) + "' is not TCP4, TCP6 or UNKNOWN");
  if (fields.size() != 6)
    return fail("PROXY v1: expected 'PROXY " + std::string(protocol) +
                " SRC DST SRCPORT DSTPORT', got " + std::to_string(fields.size()) + " fields");
  const auto source_port = parse_port(fields[4]);
  const auto destination_port = parse_port(fields[5]);
  if (!source_port || !destination_port) return fail("PROXY v1: a port is not 0..65535");
  const auto source = reactor::Address::from_ip(fields[2], *source_port);
  const auto destination = reactor::Address::from_ip(fields[3], *destination_port);
  if (!source || !destination || source->family() != af || destination->family() != af)
    return fail("PROXY v1: addresses are not " + std::string(protocol == "TCP4" ? "IPv4" : "IPv6"));
  header_.local = false;
  header_.source = *source;
  header_.destination = *destination;
  status_ = Status::complete;
  return true;
}

bool ProxyHeaderParser::parse_v2() {
  const std::string_view h = buffer_;
  const auto version_command = static_cast<unsigned char>(h[12]);
  const auto family_protocol = static_cast<unsigned char>(h[13]);
  if ((version_command >> 4) != 2)
    return fail("PROXY v2: version nibble " + std::to_string(version_command >> 4) + ", not 2");
  const unsigned command = version_command & 0x0Fu;
  if (command > 1) return fail("PROXY v2: unknown command " + std::to_string(command));
  header_.version = 2;
  // LOCAL: the balancer speaks for itself (health checks); the block, if any, is ignored.
  if (command == 0) {
    header_.local = true;
    status_ = Status::complete;
    return true;
  }
  const V2Family* family = nullptr;
  for (const V2Family& f : v2_families)
    if (f.code == (family_protocol >> 4u)) family = &f;
  if (family == nullptr)
    return fail("PROXY v2: unknown address family " + std::to_string(family_protocol >> 4u));
  const unsigned transport = family_protocol & 0x0Fu;
  if (family->code != 0 && transport != 1)
    return fail(std::string("PROXY v2: ") + family->name + " over transport " +
                std::to_string(transport) + ", not STREAM (TCP)");
  const std::size_t length = h.size() - v2_fixed;
  if (length < family->block)
    return fail(std::string("PROXY v2: ") + family->name + " needs " +
                std::to_string(family->block) + " address bytes, the header has " +
                std::to_string(length));
  // The TLVs after the addresses are skipped, but they must fit the header exactly: a
  // length that lies is a header that cannot be trusted.
  for (std::size_t at = v2_fixed + family->block; at < h.size();) {
    if (h.size() - at < 3) return fail("PROXY v2: a truncated TLV");
    const std::size_t value =
        (static_cast<unsigned char>(h[at + 1]) << 8) | static_cast<unsigned char>(h[at + 2]);
    if (h.size() - at - 3 < value) return fail("PROXY v2: a TLV longer than the header");
    at += 3 + value;
  }
  header_.local = family->af == 0;
  if (!header_.local) {
    const std::size_t ip = family->af == AF_INET ? 4 : 16;
    const char* block = h.data() + v2_fixed;
    header_.source = v2_address(family->af, block, block + 2 * ip);
    header_.destination = v2_address(family->af, block + ip, block + 2 * ip + 2);
  }
  status_ = Status::complete;
  return true;
}

bool ProxyHeaderParser::fail(std::string reason) {
  status_ = Status::failed;
  error_ = std::move(reason);
  return true;
}

}  // namespace apps::proxy
