#include "apps/proxy/HeaderRewrite.hpp"
#include "apps/http/Fields.hpp"
#include "apps/http/Status.hpp"

#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <utility>

using apps::proxy::BodyFraming;
using apps::proxy::HeaderList;
using apps::proxy::RequestFacts;
using apps::proxy::ResponseFacts;

namespace {

HeaderList headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  HeaderList list;
  for (const auto& [name, value] : fields) list.add(name, value);
  return list;
}

std::string request_head(const HeaderList& list, RequestFacts facts = {}) {
  if (facts.method.empty()) facts.method = "GET";
  if (facts.target.empty()) facts.target = "/a?b=c";
  if (facts.client_ip.empty()) facts.client_ip = "192.0.2.1";
  if (facts.upstream_host.empty()) facts.upstream_host = "up.internal:8080";
  std::string out;
  write_request_head(out, facts, list);
  return out;
}

std::string response_head(const HeaderList& list, ResponseFacts facts) {
  std::string out;
  write_response_head(out, facts, list);
  return out;
}

}  // namespace

TEST_CASE("a forwarded request keeps Host and end-to-end fields and gains the proxy fields") {
  const auto out =
      request_head(headers({{"Host", "app.example"}, {"Accept", "*/*"}, {"Cookie", "a=1"}}));
  CHECK(out ==
        "GET /a?b=c HTTP/1.1\r\nHost: app.example\r\nAccept: */*\r\nCookie: a=1\r\n"
        "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\nVia: 1.1 tlsreactor\r\n\r\n");
}

TEST_CASE("hop-by-hop request fields and those named by Connection are dropped") {
  const auto out = request_head(headers({{"Host", "h"},
                                         {"Connection", "keep-alive, X-Private"},
                                         {"x-private", "secret"},
                                         {"Keep-Alive", "timeout=5"},
                                         {"Proxy-Connection", "keep-alive"},
                                         {"TE", "trailers"},
                                         {"Trailer", "X-T"},
                                         {"Upgrade", "websocket"},
                                         {"Proxy-Authorization", "Basic eA=="},
                                         {"Expect", "100-continue"},
                                         {"X-Kept", "1"}}));
  CHECK(out ==
        "GET /a?b=c HTTP/1.1\r\nHost: h\r\nX-Kept: 1\r\nX-Forwarded-For: 192.0.2.1\r\n"
        "X-Forwarded-Proto: https\r\nVia: 1.1 tlsreactor\r\n\r\n");
}

TEST_CASE("X-Forwarded-For and Via extend what earlier hops sent, X-Forwarded-Proto is replaced") {
  RequestFacts facts;
  facts.client_tls = false;
  const auto out = request_head(headers({{"Host", "h"},
                                         {"X-Forwarded-For", "203.0.113.7"},
                                         {"x-forwarded-for", "198.51.100.2"},
                                         {"X-Forwarded-Proto", "https"},
                                         {"Via", "1.0 edge"}}),
                                facts);
  CHECK(out ==
        "GET /a?b=c HTTP/1.1\r\nHost: h\r\n"
        "X-Forwarded-For: 203.0.113.7, 198.51.100.2, 192.0.2.1\r\nX-Forwarded-Proto: http\r\n"
        "Via: 1.0 edge, 1.1 tlsreactor\r\n\r\n");
}

TEST_CASE("the request's framing is re-derived from how the body goes out") {
  RequestFacts facts;
  facts.method = "POST";
  facts.body = BodyFraming::chunked;
  const auto chunked = request_head(
      headers({{"Host", "h"}, {"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}), facts);
  CHECK(chunked.ends_with("Via: 1.1 tlsreactor\r\nTransfer-Encoding: chunked\r\n\r\n"));
  CHECK(chunked.find("Content-Length") == std::string::npos);
  facts.body = BodyFraming::length;
  facts.content_length = 0;
  const auto empty = request_head(headers({{"Host", "h"}, {"Content-Length", "0"}}), facts);
  CHECK(empty.ends_with("Via: 1.1 tlsreactor\r\nContent-Length: 0\r\n\r\n"));
}

TEST_CASE("a request without Host (HTTP/1.0) gets the upstream's") {
  const auto out = request_head(headers({{"Accept", "*/*"}}));
  CHECK(out.starts_with("GET /a?b=c HTTP/1.1\r\nAccept: */*\r\nHost: up.internal:8080\r\n"));
}

TEST_CASE("a response keeps its fields, gains Via and the framing the proxy writes") {
  ResponseFacts facts;
  facts.status = 201;
  facts.reason = "Created";
  facts.body = BodyFraming::chunked;
  const auto out = response_head(headers({{"Content-Type", "text/plain"},
                                          {"Content-Length", "10"},
                                          {"Connection", "keep-alive, X-Hop"},
                                          {"X-Hop", "1"},
                                          {"Keep-Alive", "timeout=5"},
                                          {"Transfer-Encoding", "chunked"},
                                          {"Via", "1.1 origin"},
                                          {"Set-Cookie", "a=1"},
                                          {"Set-Cookie", "b=2"}}),
                                 facts);
  CHECK(out ==
        "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
        "Via: 1.1 origin, 1.1 tlsreactor\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST_CASE("a bodiless response keeps the Content-Length it describes, and Connection is ours") {
  ResponseFacts facts;
  facts.status = 304;
  facts.reason = "Not Modified";
  facts.keep_alive = false;
  CHECK(response_head(headers({{"Content-Length", "1234"}, {"ETag", "\"x\""}}), facts) ==
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: \"x\"\r\n"
        "Via: 1.1 tlsreactor\r\nConnection: close\r\n\r\n");
  ResponseFacts http10;
  http10.reason = "OK";
  http10.client_http10 = true;
  http10.body = BodyFraming::length;
  http10.content_length = 3;
  CHECK(response_head(headers({}), http10) ==
        "HTTP/1.1 200 OK\r\nVia: 1.1 tlsreactor\r\nContent-Length: 3\r\n"
        "Connection: keep-alive\r\n\r\n");
}

TEST_CASE("lists_token matches whole comma-separated tokens in any case") {
  using apps::http::lists_token;
  CHECK(lists_token("keep-alive, Upgrade", "upgrade"));
  CHECK(lists_token(" close ", "close"));
  CHECK_FALSE(lists_token("closed", "close"));
  CHECK_FALSE(lists_token("", "close"));
  CHECK(lists_token("a,,b", "b"));
}

TEST_CASE("an error response is short text/plain with Connection close and an exact length") {
  CHECK(apps::proxy::error_response(502, "upstream refused") ==
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n"
        "Connection: close\r\n\r\nupstream refused\n");
  CHECK(apps::http::reason_phrase(431) == "Request Header Fields Too Large");
}

TEST_CASE("header names the rewrite acts on are recognised in any case, others are not") {
  using apps::proxy::field_name;
  using apps::proxy::FieldName;
  CHECK(field_name("X-FORWARDED-FOR") == FieldName::x_forwarded_for);
  CHECK(field_name("te") == FieldName::te);
  CHECK(field_name("Content-length") == FieldName::content_length);
  CHECK(field_name("Content-Lengths") == FieldName::other);
  CHECK(field_name("Connectio") == FieldName::other);
  CHECK(field_name("") == FieldName::other);
  const auto list = headers({{"Host", "h"}, {"VIA", "1.0 a"}, {"X-Other", "1"}});
  CHECK(list.kind(1) == FieldName::via);
  CHECK(list.kind(2) == FieldName::other);
  CHECK(list.has(FieldName::host));
  CHECK(list.has(FieldName::via));
  CHECK_FALSE(list.has(FieldName::connection));
}

TEST_CASE("names compare in any case of letters only, and Connection keep-alive drops no other") {
  using apps::http::equals_nocase;
  CHECK(equals_nocase("X-Forwarded-For", "x-forwarded-FOR"));
  CHECK_FALSE(equals_nocase("a^b", "a~b"));  // 0x5E and 0x7E differ by the case bit, no letters
  CHECK_FALSE(equals_nocase("a@", "a`"));
  CHECK_FALSE(equals_nocase("via", "vias"));
  ResponseFacts facts;
  facts.reason = "OK";
  facts.body = BodyFraming::length;
  facts.content_length = 2;
  CHECK(
      response_head(headers({{"Server", "s"}, {"Connection", "Keep-Alive"}, {"Date", "d"}}),
                    facts) ==
      "HTTP/1.1 200 OK\r\nServer: s\r\nDate: d\r\nVia: 1.1 tlsreactor\r\nContent-Length: 2\r\n\r\n");
  // A token that is no field the rewrite knows still drops the field it names.
  CHECK(response_head(headers({{"Server", "s"}, {"Connection", "close, date"}, {"Date", "d"}}),
                      facts) ==
        "HTTP/1.1 200 OK\r\nServer: s\r\nVia: 1.1 tlsreactor\r\nContent-Length: 2\r\n\r\n");
}

TEST_CASE("only a bodiless HTTP/1.1 GET with Connection: upgrade and Upgrade: websocket upgrades") {
  using apps::proxy::is_websocket_upgrade;
  const auto ws = headers({{"Connection", "keep-alive, Upgrade"}, {"Upgrade", "WebSocket"}});
  CHECK(is_websocket_upgrade("GET", false, ws, false));
  CHECK_FALSE(is_websocket_upgrade(
      "GET", false, headers({{"Connection", "Upgrade"}, {"Upgrade", "h2c"}}), false));
  CHECK_FALSE(is_websocket_upgrade("GET", false, headers({{"Upgrade", "websocket"}}), false));
  CHECK_FALSE(is_websocket_upgrade("GET", false, headers({{"Connection", "Upgrade"}}), false));
  CHECK_FALSE(is_websocket_upgrade("POST", false, ws, false));
  CHECK_FALSE(is_websocket_upgrade("GET", true, ws, false));
  CHECK_FALSE(is_websocket_upgrade("GET", false, ws, true));
}

TEST_CASE(
    "a WebSocket request keeps Connection: upgrade and Upgrade: websocket and other Upgrades go") {
  const auto ws = headers({{"Host", "h"},
                           {"Connection", "Upgrade"},
                           {"Upgrade", "websocket"},
                           {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}});
  RequestFacts facts;
  facts.websocket = true;
  CHECK(request_head(ws, facts) ==
        "GET /a?b=c HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\nVia: 1.1 tlsreactor\r\n"
        "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n");
  const auto h2c = headers({{"Host", "h"},
                            {"Connection", "Upgrade, HTTP2-Settings"},
                            {"Upgrade", "h2c"},
                            {"HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA"}});
  CHECK(request_head(h2c) ==
        "GET /a?b=c HTTP/1.1\r\nHost: h\r\n"
        "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\nVia: 1.1 tlsreactor\r\n\r\n");
}

TEST_CASE("a 101 to the client keeps the upstream's Upgrade and says Connection: upgrade") {
  ResponseFacts facts;
  facts.status = 101;
  facts.reason = "Switching Protocols";
  facts.switching = true;
  CHECK(response_head(headers({{"Upgrade", "websocket"},
                               {"Connection", "Upgrade"},
                               {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}}),
                      facts) ==
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nVia: 1.1 tlsreactor\r\n"
        "Connection: upgrade\r\n\r\n");
}

TEST_CASE("a client's Client-Cert fields never reach the upstream, the proxy's own do") {
  const auto list = headers({{"Host", "h"},
                             {"client-cert", ":Zm9yZ2Vk:"},
                             {"Client-Cert-Chain", ":Zm9yZ2Vk:"},
                             {"X-Request-Id", "from-client"}});
  CHECK(request_head(list) ==
        "GET /a?b=c HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.1\r\n"
        "X-Forwarded-Proto: https\r\nVia: 1.1 tlsreactor\r\n\r\n");
  RequestFacts facts;
  facts.request_id = "0123456789abcdef0123456789abcdef";
  facts.client_cert = ":AAEC:";
  facts.client_cert_chain = ":AwQ=:, :BQY=:";
  CHECK(request_head(list, facts) ==
        "GET /a?b=c HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.1\r\n"
        "X-Forwarded-Proto: https\r\nVia: 1.1 tlsreactor\r\n"
        "X-Request-Id: 0123456789abcdef0123456789abcdef\r\nClient-Cert: :AAEC:\r\n"
        "Client-Cert-Chain: :AwQ=:, :BQY=:\r\n\r\n");
}
