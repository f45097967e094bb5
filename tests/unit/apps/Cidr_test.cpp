#include <doctest/doctest.h>

#include <string>

#include "apps/proxy/Cidr.hpp"

namespace {

using apps::proxy::Cidr;

reactor::Address ip(const char* text) {
  return *reactor::Address::from_ip(text, 1234);
}

Cidr cidr(const char* text) {
  std::string error;
  const auto parsed = Cidr::parse(text, error);
  REQUIRE_MESSAGE(parsed, error);
  return *parsed;
}

}  // namespace

TEST_CASE("CIDR ranges match IPv4 and IPv6 addresses at their prefix boundaries") {
  const struct {
    const char* range;
    const char* address;
    bool inside;
  } cases[] = {
      {"10.0.0.0/8", "10.255.255.255", true},
      {"10.0.0.0/8", "11.0.0.0", false},
      {"192.168.1.0/25", "192.168.1.127", true},
      {"192.168.1.0/25", "192.168.1.128", false},
      {"127.0.0.1", "127.0.0.1", true},
      {"127.0.0.1/32", "127.0.0.2", false},
      {"0.0.0.0/0", "203.0.113.9", true},
      {"0.0.0.0/0", "::1", false},
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"::1", "::1", true},
      {"::/0", "10.0.0.1", false},
      {"fe80::/10", "febf::1", true},
      {"fe80::/10", "fec0::1", false},
      // IPv4 clients on a dual-stack listener appear mapped; an IPv4 range still matches.
      {"10.0.0.0/8", "::ffff:10.1.2.3", true},
      {"10.0.0.0/8", "::ffff:11.1.2.3", false},
      {"::ffff:0:0/96", "::ffff:11.1.2.3", true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.range);
    CAPTURE(c.address);
    CHECK(cidr(c.range).contains(ip(c.address)) == c.inside);
  }
}

TEST_CASE("bad CIDR text is refused with the item named") {
  const struct {
    const char* text;
    const char* error;
  } cases[] = {
      {"10.0.0.1/8", "'10.0.0.1/8' has bits set past the /8 prefix (did you mean 10.0.0.0/8?)"},
      {"10.0.0.0/33", "'10.0.0.0/33': the prefix length must be 0 to 32"},
      {"::/129", "'::/129': the prefix length must be 0 to 128"},
      {"10.0.0.0/", "'10.0.0.0/': the prefix length must be 0 to 32"},
      {"10.0.0.0/08", "'10.0.0.0/08': the prefix length must be 0 to 32"},
      {"10.0.0.0/-1", "'10.0.0.0/-1': the prefix length must be 0 to 32"},
      {"localhost", "'localhost' is not an IP address or CIDR range"},
      {"", "'' is not an IP address or CIDR range"},
      {"/8", "'/8' is not an IP address or CIDR range"},
  };
  for (const auto& c : cases) {
    std::string error;
    CHECK_FALSE(Cidr::parse(c.text, error));
    CHECK(error == c.error);
  }
}

TEST_CASE("a CIDR list parses with blanks and names its bad item") {
  std::string error;
  const auto list = apps::proxy::parse_cidr_list("127.0.0.1/32, 10.0.0.0/8 ,::1", error);
  REQUIRE_MESSAGE(list, error);
  REQUIRE(list->size() == 3);
  CHECK((*list)[1].to_string() == "10.0.0.0/8");
  CHECK(apps::proxy::matches_any(*list, ip("10.9.9.9")));
  CHECK_FALSE(apps::proxy::matches_any(*list, ip("127.0.0.2")));
  CHECK_FALSE(apps::proxy::parse_cidr_list("127.0.0.1,,10.0.0.0/8", error));
  CHECK(error == "'' is not an IP address or CIDR range");
}

TEST_CASE("loopback is 127.0.0.0/8, ::1 and their mapped form, nothing else") {
  CHECK(apps::proxy::is_loopback(ip("127.0.0.1")));
  CHECK(apps::proxy::is_loopback(ip("127.3.2.1")));
  CHECK(apps::proxy::is_loopback(ip("::1")));
  CHECK(apps::proxy::is_loopback(ip("::ffff:127.0.0.1")));
  CHECK_FALSE(apps::proxy::is_loopback(ip("0.0.0.0")));
  CHECK_FALSE(apps::proxy::is_loopback(ip("::")));
  CHECK_FALSE(apps::proxy::is_loopback(ip("10.0.0.1")));
  CHECK_FALSE(apps::proxy::is_loopback(ip("::2")));
}
