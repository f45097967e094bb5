// Address ranges in CIDR notation ("10.0.0.0/8", "2001:db8::/32", a bare address for one host),
// for deciding which peers are trusted to speak the PROXY protocol.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reactor/Address.hpp"

namespace apps::proxy {

// Value type. An IPv4 range also matches IPv4-mapped IPv6 peers (::ffff:a.b.c.d), which is how
// IPv4 clients appear on a dual-stack listener.
class Cidr {
 public:
  // "A.B.C.D/N" (N <= 32), "V6/N" (N <= 128), or an address alone (/32, /128). nullopt with
  // `error` set otherwise, including bits set past the prefix ("10.0.0.1/8"), which usually
  // means a typo and would otherwise silently trust more than meant.
  static std::optional<Cidr> parse(std::string_view text, std::string& error);

  bool contains(const reactor::Address& address) const;
  std::string to_string() const;  // "10.0.0.0/8"

 private:
  int family_ = 0;                      // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> net_{};  // the first 4 bytes for AF_INET
  unsigned prefix_ = 0;
};

// "CIDR[,CIDR...]" as the command line writes it (blanks around commas allowed). nullopt with
// `error` naming the bad item.
std::optional<std::vector<Cidr>> parse_cidr_list(std::string_view text, std::string& error);

bool matches_any(const std::vector<Cidr>& ranges, const reactor::Address& address);

// 127.0.0.0/8, ::1, and IPv4-mapped 127.x.
bool is_loopback(const reactor::Address& address);

}  // namespace apps::proxy
