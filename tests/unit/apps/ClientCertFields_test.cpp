#include "apps/proxy/ClientCertFields.hpp"

#include <doctest/doctest.h>

#include <string>

TEST_CASE("Client-Cert is a Structured Field byte sequence, the chain a list of them") {
  CHECK(apps::proxy::client_cert_field(std::string("\x00\x01\x02", 3)) == ":AAEC:");
  CHECK(apps::proxy::client_cert_field("") == "");
  CHECK(apps::proxy::client_cert_chain_field({"\x03\x04", "\x05\x06"}) == ":AwQ=:, :BQY=:");
  CHECK(apps::proxy::client_cert_chain_field({}) == "");
}
