#include "apps/proxy/AccessLog.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "reactor/Log.hpp"

using apps::proxy::AccessLog;
using apps::proxy::AccessLogFormat;
using apps::proxy::AccessRecord;

namespace {

constexpr std::string_view kTime = "2026-12-07T15:04:05.123Z";

AccessRecord sample() {
  AccessRecord r;
  r.client = "203.0.113.7:51234";
  r.sni = "app.example";
  r.alpn = "http/1.1";
  r.tls_version = "TLSv1.3";
  r.cipher = "TLS_AES_128_GCM_SHA256";
  r.resumed = true;
  r.handshake_ms = 1.5;
  r.protocol = "HTTP/2";
  r.stream = 7;
  r.method = "GET";
  r.target = "/a?b=1";
  r.status = 200;
  r.bytes_in = 78;
  r.bytes_out = 1024;
  r.upstream = "http://127.0.0.1:8081";
  r.upstream_ms = 2;
  r.total_ms = 3.25;
  r.host = "app.example";
  r.user_agent = "curl/7.88.1 (x86_64)";
  r.request_id = "0af7651916cd43dd8448eb211c80319c";
  r.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  return r;
}

}  // namespace

TEST_CASE("a text access-log line has every field, in order, on one line") {
  CHECK(AccessLog::format(sample(), AccessLogFormat::text, kTime) ==
        "2026-12-07T15:04:05.123Z 203.0.113.7:51234 \"GET /a?b=1\" 200 78 1024 "
        "upstream=http://127.0.0.1:8081 upstream_ms=2.000 total_ms=3.250 tls=TLSv1.3 "
        "cipher=TLS_AES_128_GCM_SHA256 sni=app.example alpn=http/1.1 resumed=1 "
        "handshake_ms=1.500 protocol=HTTP/2 stream=7 host=app.example "
        "user_agent=\"curl/7.88.1 (x86_64)\" request_id=0af7651916cd43dd8448eb211c80319c "
        "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n");
}

TEST_CASE("text lines show empty fields as - and escape what could break the line") {
  AccessRecord r;
  r.client = "192.0.2.1:1";
  r.method = "GET";
  r.target = "/x\"\n\\\x80";
  r.user_agent = "a \"quoted\" agent";
  const auto line = AccessLog::format(r, AccessLogFormat::text, kTime);
  CHECK(line ==
        "2026-12-07T15:04:05.123Z 192.0.2.1:1 \"GET /x\\x22\\x0A\\x5C\\x80\" 0 0 0 upstream=- "
        "upstream_ms=0.000 total_ms=0.000 tls=- cipher=- sni=- alpn=- resumed=0 "
        "handshake_ms=0.000 protocol=- stream=0 host=- user_agent=\"a \\x22quoted\\x22 agent\" "
        "request_id=- traceparent=-\n");
}

TEST_CASE("a JSON access-log line is one object with typed fields") {
  CHECK(
      AccessLog::format(sample(), AccessLogFormat::json, kTime) ==
      "{\"time\":\"2026-12-07T15:04:05.123Z\",\"client\":\"203.0.113.7:51234\",\"sni\":\"app.example\",\"alpn\":\"http/1.1\","
      "\"tls_version\":\"TLSv1.3\",\"cipher\":\"TLS_AES_128_GCM_SHA256\",\"resumed\":true,"
      "\"handshake_ms\":1.500,\"method\":\"GET\",\"target\":\"/a?b=1\",\"status\":200,"
      "\"bytes_in\":78,\"bytes_out\":1024,\"upstream\":\"http://127.0.0.1:8081\","
      "\"upstream_ms\":2.000,\"total_ms\":3.250,\"protocol\":\"HTTP/2\",\"stream\":7,"
      "\"host\":\"app.example\",\"user_agent\":\"curl/7.88.1 (x86_64)\","
      "\"request_id\":\"0af7651916cd43dd8448eb211c80319c\","
      "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"}\n");
}

TEST_CASE("JSON strings escape quotes, backslashes and controls, keep UTF-8, replace bad bytes") {
  AccessRecord r;
  r.target = std::string("/\"q\"\\\n\t\x01\x7f-\xc3\xa9-\xe2\x82\xac-\xff-\xc3", 20);
  const auto line = AccessLog::format(r, AccessLogFormat::json, kTime);
  CHECK(line.find("\"target\":\"/\\\"q\\\"\\\\\\n\\t\\u0001\\u007f-\xc3\xa9-\xe2\x82\xac-"
                  "\\ufffd-\\ufffd\"") != std::string::npos);
  CHECK(line.find('\n') == line.size() - 1);
}

TEST_CASE("timestamps are RFC 3339 UTC with milliseconds, the same for both logs") {
  std::string out;
  reactor::log::append_timestamp(out, 1796655845, 123'999'999);  // 2026-12-07T15:04:05
  CHECK(out == "2026-12-07T15:04:05.123Z");
  out.clear();
  reactor::log::append_timestamp(out, 0, 7'000'000);
  CHECK(out == "1970-01-01T00:00:00.007Z");
  // The cached second and the clock: the same shape, the current time.
  out.clear();
  reactor::log::append_timestamp(out);
  CHECK(out.size() == 24);
  CHECK(out[10] == 'T');
  CHECK(out[19] == '.');
  CHECK(out.back() == 'Z');
}
