#include "apps/proxy/AccessLog.hpp"

#include <doctest/doctest.h>

#include <string>

using apps::proxy::AccessLog;
using apps::proxy::AccessLogFormat;
using apps::proxy::AccessRecord;

namespace {

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
  return r;
}

}  // namespace

TEST_CASE("a text access-log line has every field, in order, on one line") {
  CHECK(AccessLog::format(sample(), AccessLogFormat::text) ==
        "203.0.113.7:51234 \"GET /a?b=1\" 200 78 1024 upstream=http://127.0.0.1:8081 "
        "upstream_ms=2.000 total_ms=3.250 tls=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 "
        "sni=app.example alpn=http/1.1 resumed=1 handshake_ms=1.500 protocol=HTTP/2 stream=7\n");
}

TEST_CASE("text lines show empty fields as - and escape what could break the line") {
  AccessRecord r;
  r.client = "192.0.2.1:1";
  r.method = "GET";
  r.target = "/x\"\n\\\x80";
  const auto line = AccessLog::format(r, AccessLogFormat::text);
  CHECK(line ==
        "192.0.2.1:1 \"GET /x\\x22\\x0A\\x5C\\x80\" 0 0 0 upstream=- upstream_ms=0.000 "
        "total_ms=0.000 tls=- cipher=- sni=- alpn=- resumed=0 handshake_ms=0.000 protocol=- "
        "stream=0\n");
}

TEST_CASE("a JSON access-log line is one object with typed fields") {
  CHECK(AccessLog::format(sample(), AccessLogFormat::json) ==
        "{\"client\":\"203.0.113.7:51234\",\"sni\":\"app.example\",\"alpn\":\"http/1.1\","
        "\"tls_version\":\"TLSv1.3\",\"cipher\":\"TLS_AES_128_GCM_SHA256\",\"resumed\":true,"
        "\"handshake_ms\":1.500,\"method\":\"GET\",\"target\":\"/a?b=1\",\"status\":200,"
        "\"bytes_in\":78,\"bytes_out\":1024,\"upstream\":\"http://127.0.0.1:8081\","
        "\"upstream_ms\":2.000,\"total_ms\":3.250,\"protocol\":\"HTTP/2\",\"stream\":7}\n");
}

TEST_CASE("JSON strings escape quotes, backslashes and controls, keep UTF-8, replace bad bytes") {
  AccessRecord r;
  r.target = std::string("/\"q\"\\\n\t\x01\x7f-\xc3\xa9-\xe2\x82\xac-\xff-\xc3", 20);
  const auto line = AccessLog::format(r, AccessLogFormat::json);
  CHECK(line.find("\"target\":\"/\\\"q\\\"\\\\\\n\\t\\u0001\\u007f-\xc3\xa9-\xe2\x82\xac-"
                  "\\ufffd-\\ufffd\"") != std::string::npos);
  CHECK(line.find('\n') == line.size() - 1);
}
