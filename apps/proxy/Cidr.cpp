#include "apps/proxy/Cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace apps::proxy {
namespace {

// An address as family + bytes, with IPv4-mapped IPv6 unwrapped to IPv4.
struct RawAddress {
  int family = 0;
  std::array<std::uint8_t, 16> bytes{};
};

RawAddress raw(const reactor::Address& address) {
  RawAddress out;
  if (address.family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.sockaddr_ptr());
    out.family = AF_INET;
    std::memcpy(out.bytes.data(), &v4->sin_addr, 4);
  } else if (address.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.sockaddr_ptr());
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      out.family = AF_INET;
      std::memcpy(out.bytes.data(), v6->sin6_addr.s6_addr + 12, 4);
    } else {
      out.family = AF_INET6;
      std::memcpy(out.bytes.data(), v6->sin6_addr.s6_addr, 16);
    }
  }
  return out;
}

// Whether the first `prefix` bits of a and b agree.
bool same_prefix(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                 unsigned prefix) {
  const unsigned whole = prefix / 8;
  if (std::memcmp(a.data(), b.data(), whole) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFFu << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text, std::string& error) {
  const std::string shown(text);
  const auto slash = text.find('/');
  const std::string_view ip = text.substr(0, slash);
  const auto address = reactor::Address::from_ip(ip, 0);
  if (ip.empty() || ip.find('%') != std::string_view::npos || !address) {
    error = "'" + shown + "' is not an IP address or CIDR range";
    return std::nullopt;
  }
  Cidr cidr;
  const RawAddress r = raw(*address);
  // "::ffff:10.0.0.0/104" is written as IPv6; keep it IPv6 so the prefix length means what
  // the user wrote.
  cidr.family_ = address->family();
  if (cidr.family_ == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address->sockaddr_ptr());
    std::memcpy(cidr.net_.data(), v6->sin6_addr.s6_addr, 16);
  } else {
    cidr.net_ = r.bytes;
  }
  const unsigned max_prefix = cidr.family_ == AF_INET ? 32 : 128;
  cidr.prefix_ = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    unsigned prefix = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        prefix > max_prefix || (digits.size() > 1 && digits.front() == '0')) {
      error = "'" + shown + "': the prefix length must be 0 to " + std::to_string(max_prefix);
      return std::nullopt;
    }
    cidr.prefix_ = prefix;
  }
  std::array<std::uint8_t, 16> masked{};
  for (unsigned bit = 0; bit < cidr.prefix_; ++bit)
    masked[bit / 8] |= static_cast<std::uint8_t>(cidr.net_[bit / 8] & (0x80u >> (bit % 8)));
  if (masked != cidr.net_) {
    cidr.net_ = masked;
    error = "'" + shown + "' has bits set past the /" + std::to_string(cidr.prefix_) +
            " prefix (did you mean " + cidr.to_string() + "?)";
    return std::nullopt;
  }
  return cidr;
}

bool Cidr::contains(const reactor::Address& address) const {
  const RawAddress r = raw(address);
  if (r.family == family_) return same_prefix(net_, r.bytes, prefix_);
  // A mapped IPv4 peer against an IPv6 range written over ::ffff:0:0/96.
  if (family_ == AF_INET6 && r.family == AF_INET && address.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.sockaddr_ptr());
    std::array<std::uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), v6->sin6_addr.s6_addr, 16);
    return same_prefix(net_, bytes, prefix_);
  }
  return false;
}

std::string Cidr::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family_, net_.data(), text, sizeof text);
  return std::string(text) + "/" + std::to_string(prefix_);
}

std::optional<std::vector<Cidr>> parse_cidr_list(std::string_view text, std::string& error) {
  std::vector<Cidr> out;
  while (true) {
    const auto comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    auto cidr = Cidr::parse(item, error);
    if (!cidr) return std::nullopt;
    out.push_back(*cidr);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

bool matches_any(const std::vector<Cidr>& ranges, const reactor::Address& address) {
  for (const Cidr& range : ranges)
    if (range.contains(address)) return true;
  return false;
}

bool is_loopback(const reactor::Address& address) {
  const RawAddress r = raw(address);
  if (r.family == AF_INET) return r.bytes[0] == 127;
  static constexpr std::array<std::uint8_t, 16> v6_loopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                            0, 0, 0, 0, 0, 0, 0, 1};
  return r.family == AF_INET6 && r.bytes == v6_loopback;
}

}  // namespace apps::proxy
