#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "apps/http/Base64.hpp"
#include "apps/http/WebSocketHandshake.hpp"
#include "tls/Digest.hpp"

namespace {

using apps::http::WebSocketHandshake;

using Fields = std::vector<std::pair<std::string, std::string>>;

// RFC 6455 1.3's example request.
Fields sample_fields() {
  return {{"Host", "server.example.com"},   {"Upgrade", "websocket"},
          {"Connection", "Upgrade"},        {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
          {"Origin", "http://example.com"}, {"Sec-WebSocket-Version", "13"}};
}

WebSocketHandshake handshake(const Fields& fields, std::string_view method = "GET", int major = 1,
                             int minor = 1) {
  WebSocketHandshake h;
  h.on_request_line(method, major, minor);
  for (const auto& [name, value] : fields) h.on_header(name, value);
  return h;
}

Fields with(Fields fields, const std::string& name, const std::string& value) {
  std::erase_if(fields, [&](const auto& f) { return f.first == name; });
  if (!value.empty()) fields.emplace_back(name, value);
  return fields;
}

std::string text(const std::vector<std::byte>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

}  // namespace

TEST_CASE("SHA-1 from the tls layer matches FIPS 180-2's examples") {
  CHECK(apps::http::base64_encode(tls::sha1(bytes_of("abc"))) == "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
  CHECK(apps::http::base64_encode(tls::sha1(bytes_of(""))) == "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
}

TEST_CASE("base64 round-trips RFC 4648's test vectors") {
  const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                    {"f", "Zg=="},
                                                                    {"fo", "Zm8="},
                                                                    {"foo", "Zm9v"},
                                                                    {"foob", "Zm9vYg=="},
                                                                    {"fooba", "Zm9vYmE="},
                                                                    {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CAPTURE(plain);
    CHECK(apps::http::base64_encode(bytes_of(plain)) == encoded);
    const auto decoded = apps::http::base64_decode(encoded);
    REQUIRE(decoded.has_value());
    CHECK(text(*decoded) == plain);
  }
}

TEST_CASE("base64 decoding refuses what is not canonical padded base64") {
  for (const std::string bad :
       {"Zg", "Zg=", "Zm9", "Z===", "====", "Zh==", "Zm9=Yg==", "Zm9v!A==", "Zm 9", "Zm9vYg=\n"}) {
    CAPTURE(bad);
    CHECK_FALSE(apps::http::base64_decode(bad).has_value());
  }
}

TEST_CASE("RFC 6455's sample handshake is accepted with its Sec-WebSocket-Accept") {
  CHECK(apps::http::websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const auto h = handshake(sample_fields());
  CHECK(h.wants_websocket());
  const auto verdict = h.verdict();
  CHECK(verdict.status == 101);
  CHECK(verdict.head ==
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
}

TEST_CASE("the upgrade ask is recognised in any case, among other tokens and over several fields") {
  auto fields = with(sample_fields(), "Connection", "keep-alive, UPGRADE");
  fields = with(fields, "Upgrade", "h2c, WebSocket");
  CHECK(handshake(fields).wants_websocket());
  fields = with(fields, "Connection", "keep-alive");
  fields.emplace_back("Connection", "Upgrade");
  CHECK(handshake(fields).wants_websocket());
}

TEST_CASE("a request without both Upgrade: websocket and Connection: upgrade is plain HTTP") {
  CHECK_FALSE(handshake(with(sample_fields(), "Upgrade", "")).wants_websocket());
  CHECK_FALSE(handshake(with(sample_fields(), "Upgrade", "h2c")).wants_websocket());
  CHECK_FALSE(handshake(with(sample_fields(), "Connection", "")).wants_websocket());
  CHECK_FALSE(handshake(with(sample_fields(), "Connection", "keep-alive")).wants_websocket());
}

TEST_CASE("an invalid WebSocket ask is answered 400 with the reason") {
  struct Case {
    const char* name;
    WebSocketHandshake h;
  };
  const std::vector<Case> cases = {
      {"POST", handshake(sample_fields(), "POST")},
      {"HTTP/1.0", handshake(sample_fields(), "GET", 1, 0)},
      {"no Host", handshake(with(sample_fields(), "Host", ""))},
      {"no key", handshake(with(sample_fields(), "Sec-WebSocket-Key", ""))},
      {"key of 15 bytes",
       handshake(with(sample_fields(), "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j"))},
      {"key of 17 bytes",
       handshake(with(sample_fields(), "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZSE="))},
      {"key not base64",
       handshake(with(sample_fields(), "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ"))},
      {"two keys",
       [] {
         auto f = sample_fields();
         f.emplace_back("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
         return handshake(f);
       }()},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto verdict = c.h.verdict();
    CHECK(verdict.status == 400);
    CHECK_FALSE(verdict.reason.empty());
    CHECK(verdict.head.empty());
  }
}

TEST_CASE("a version other than 13 is answered 426 naming version 13") {
  for (const std::string version : {"8", "12", "14", "", "13, 8"}) {
    CAPTURE(version);
    const auto verdict =
        handshake(with(sample_fields(), "Sec-WebSocket-Version", version)).verdict();
    CHECK(verdict.status == 426);
    CHECK(verdict.head == "Sec-WebSocket-Version: 13\r\n");
  }
}
