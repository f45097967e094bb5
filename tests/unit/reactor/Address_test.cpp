#include <doctest/doctest.h>

#include "reactor/Address.hpp"

using reactor::Address;
using reactor::HostPort;

TEST_CASE("HostPort parses host names, IPv4 and bracketed IPv6 with a port") {
  auto a = HostPort::parse("localhost:8443");
  REQUIRE(a);
  CHECK(a->host == "localhost");
  CHECK(a->port == 8443);
  auto b = HostPort::parse("[::1]:0");
  REQUIRE(b);
  CHECK(b->host == "::1");
  CHECK(b->port == 0);
  CHECK(b->to_string() == "[::1]:0");
  CHECK(HostPort::parse("10.0.0.1:65535")->port == 65535);
}

TEST_CASE("HostPort rejects what is not HOST:PORT") {
  for (const char* bad : {"", "localhost", ":80", "host:", "host:65536", "host:-1", "host:8x",
                          "::1:80", "[::1]80", "[::1]", "[::1:80"})
    CHECK_MESSAGE(!HostPort::parse(bad), bad);
}

TEST_CASE("Address round-trips IPv4 and IPv6 literals and refuses names") {
  auto v4 = Address::from_ip("127.0.0.1", 80);
  REQUIRE(v4);
  CHECK(v4->family() == AF_INET);
  CHECK(v4->to_string() == "127.0.0.1:80");
  auto v6 = Address::from_ip("::1", 443);
  REQUIRE(v6);
  CHECK(v6->family() == AF_INET6);
  CHECK(v6->to_string() == "[::1]:443");
  CHECK(Address::from_sockaddr(v6->sockaddr_ptr()).to_string() == "[::1]:443");
  CHECK_FALSE(Address::from_ip("localhost", 80));
  CHECK_FALSE(Address().valid());
}

TEST_CASE("resolve_for_listen turns localhost into a loopback address") {
  reactor::Error error;
  const Address a = Address::resolve_for_listen({"localhost", 9}, error);
  CHECK_FALSE(error);
  REQUIRE(a.valid());
  CHECK((a.ip() == "127.0.0.1" || a.ip() == "::1"));
  CHECK(a.port() == 9);
}
