// tlsreactor-proxy with HTTP/2 clients: curl --http2, nghttp2's h2load and Python's h2
// (peers/h2_client.py) in front; hello and Python's http.server (peers/upstream_peer.py) behind,
// spoken to in HTTP/1.1. Each stream is one ProxyExchange on the upstream pool.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/Peers.hpp"
#include "tests/integration/ProxyPeers.hpp"
#include "tests/support/TestDir.hpp"

using namespace std::chrono_literals;
using integration::contains;
using integration::curl;
using integration::HelloServer;
using integration::occurrences;
using integration::output_of;
using integration::Process;
using integration::ProxyServer;
using integration::python_peer;
using integration::sha256_of;
using integration::Upstream;
using integration::write_noise;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;

// peers/h2_client.py against the proxy (TLS unless `plain`): its stdout, one JSON object per
// stream, after checking it exited 0.
std::string h2_client(const ProxyServer& proxy, std::vector<std::string> args, bool plain = false) {
  args.insert(args.begin(), {"--port", proxy.port_text()});
  if (plain) args.emplace_back("--plain");
  Process client = python_peer("h2_client.py", std::move(args));
  return output_of(client, 90s);
}

// What curl prints for -w: "200 2" and a newline (output_of takes whole lines).
const std::string kCodeVersion = "%{http_code} %{http_version}\n";

}  // namespace

TEST_SUITE("proxy-http2") {
  TEST_CASE("curl --http2 through the proxy to hello: GET, HEAD, 8 MiB echoed byte-exact") {
    test_support::TestDir dir;
    HelloServer hello({});
    ProxyServer proxy(dir, {"--upstream", hello.url("")});

    CHECK(curl({"--http2", "-w", "\n" + kCodeVersion, proxy.url("/")}) ==
          "hello from tlsreactor\n\n200 2\n");

    const std::string head = curl({"--http2", "--head", proxy.url("/bytes/1000")});
    CHECK_MESSAGE(head.starts_with("HTTP/2 200"), head);
    CHECK_MESSAGE(contains(head, "content-length: 1000\r\n"), head);
    CHECK_MESSAGE(contains(head, "via: 1.1 tlsreactor\r\n"), head);

    const std::string sent = write_noise(dir, "upload", 8 * MiB);
    const std::string back = dir.path("echoed");
    CHECK(curl({"--http2", "--data-binary", "@" + sent, "-o", back, "-w", kCodeVersion,
                proxy.url("/echo")}) == "200 2\n");
    CHECK(sha256_of(back) == sha256_of(sent));
    proxy.stop();
    hello.stop();
  }

  TEST_CASE("an HTTP/2 Expect: 100-continue is answered 100 once the upstream is there") {
    test_support::TestDir dir;
    HelloServer hello({});
    ProxyServer proxy(dir, {"--upstream", hello.url("")});
    const std::string sent = write_noise(dir, "upload", 2 * MiB);
    const std::string back = dir.path("echoed");
    // curl waits up to --expect100-timeout for the 100 before it sends the body anyway.
    Process client({"curl", "--silent", "--show-error", "--insecure", "--max-time", "60", "--http2",
                    "--verbose", "--expect100-timeout", "30", "-H", "Expect: 100-continue",
                    "--data-binary", "@" + sent, "-o", back, proxy.url("/echo")});
    const auto code = client.wait(70s);
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    const std::string log = client.transcript();
    CHECK_MESSAGE(contains(log, "< HTTP/2 100"), log);
    CHECK_MESSAGE(contains(log, "< HTTP/2 200"), log);
    CHECK(sha256_of(back) == sha256_of(sent));
    proxy.stop();
    hello.stop();
  }

  TEST_CASE("over HTTP/2 to http.server: :authority becomes Host, cookies join, uploads hash") {
    test_support::TestDir dir;
    Upstream upstream;
    ProxyServer proxy(dir, {"--upstream", upstream.url()});

    const std::string seen =
        h2_client(proxy, {"--path", "/headers", "--authority", "app.example:8443", "--header",
                          "cookie: a=1", "--header", "cookie: b=2"});
    CHECK_MESSAGE(contains(seen, "GET /headers HTTP/1.1\\n"), seen);
    // First, as an HTTP/1.1 client would put it.
    CHECK_MESSAGE(contains(seen, "GET /headers HTTP/1.1\\nHost: app.example:8443\\n"), seen);
    CHECK_MESSAGE(contains(seen, "cookie: a=1; b=2\\n"), seen);
    CHECK_MESSAGE(contains(seen, "X-Forwarded-Proto: https\\n"), seen);

    const std::string sent = write_noise(dir, "upload", 8 * MiB);
    CHECK(curl({"--http2", "--data-binary", "@" + sent, proxy.url("/digest")}) ==
          std::to_string(8 * MiB) + " " + sha256_of(sent) + "\n");
    proxy.stop();
  }

  TEST_CASE("over HTTP/2: 204 and 304 come without a body, a chunked body with its trailers") {
    test_support::TestDir dir;
    Upstream upstream;
    ProxyServer proxy(dir, {"--upstream", upstream.url()});

    CHECK(curl({"--http2", "-w", kCodeVersion, proxy.url("/status/204")}) == "204 2\n");
    const std::string not_modified = h2_client(proxy, {"--path", "/status/304"});
    CHECK_MESSAGE(contains(not_modified, "\"status\": 304"), not_modified);
    CHECK_MESSAGE(contains(not_modified, "\"content-length\": \"1234\""), not_modified);
    CHECK_MESSAGE(contains(not_modified, "\"length\": 0,"), not_modified);

    const std::string chunked = h2_client(proxy, {"--path", "/chunked?n=5&size=1000"});
    CHECK_MESSAGE(contains(chunked, "\"status\": 200"), chunked);
    CHECK_MESSAGE(contains(chunked, "\"trailers\": {\"x-trailer\": \"done\"}"), chunked);
    CHECK_MESSAGE(contains(chunked, "\"length\": 5000,"), chunked);
    CHECK_MESSAGE(contains(chunked, "\"pattern\": true"), chunked);
    CHECK_MESSAGE(!contains(chunked, "transfer-encoding"), chunked);
    proxy.stop();
  }

  TEST_CASE("a connection-specific field from an HTTP/2 client resets its stream") {
    test_support::TestDir dir;
    Upstream upstream;
    ProxyServer proxy(dir, {"--upstream", upstream.url()});
    for (const char* field : {"connection: close", "transfer-encoding: chunked", "te: gzip"}) {
      const std::string out = h2_client(proxy, {"--path", "/headers", "--header", field});
      // RST_STREAM PROTOCOL_ERROR (1), no response (RFC 9113 8.2.2).
      CHECK_MESSAGE(contains(out, "\"status\": null"), field << "\n" << out);
      CHECK_MESSAGE(contains(out, "\"reset\": 1,"), field << "\n" << out);
    }
    // None of them reached the upstream: this is its first request.
    CHECK(curl({"--http2", proxy.url("/connections")}) == "1\n");
    proxy.stop();
  }

  TEST_CASE("over HTTP/2 an unreachable upstream is 502 and a silent one 504") {
    test_support::TestDir dir;
    const std::string closed = "http://127.0.0.1:" + std::to_string(integration::closed_port());
    ProxyServer down(dir, {"--upstream", closed});
    CHECK(curl({"--http2", "-o", "/dev/null", "-w", kCodeVersion, down.url("/")}) == "502 2\n");
    down.stop();

    Upstream upstream;
    ProxyServer proxy(dir, {"--upstream", upstream.url(), "--response-timeout", "1"});
    const std::string never = dir.path("never");  // /until waits for this file
    const std::string out =
        curl({"--http2", "-w", "\n" + kCodeVersion, proxy.url("/until?file=" + never)});
    CHECK_MESSAGE(out.ends_with("sent no response within 1 s\n\n504 2\n"), out);
    proxy.stop();
  }

  TEST_CASE("an HTTP/2 request body that stops coming gets 408 at --body-timeout on its stream") {
    test_support::TestDir dir;
    Upstream upstream;
    ProxyServer proxy(dir, {"--upstream", upstream.url(), "--body-timeout", "1"});
    // 100 of the 1000 bytes its content-length promises, then silence: the upstream waits for
    // the rest and says nothing, so only the proxy's body deadline can answer the stream.
    const std::string out =
        h2_client(proxy, {"--method", "POST", "--path", "/digest", "--body-bytes", "1000",
                          "--stall-after", "100", "--timeout", "30"});
    CHECK_MESSAGE(contains(out, "\"status\": 408"), out);
    CHECK_MESSAGE(contains(out, "request body stalled for 1 s"), out);
    proxy.stop();
  }

  TEST_CASE("100 concurrent HTTP/2 streams of 1 MiB each arrive byte-exact") {
    test_support::TestDir dir;
    HelloServer hello({});
    ProxyServer proxy(dir, {"--upstream", hello.url("")});
    const std::string out =
        h2_client(proxy, {"--count", "100", "--path", "/bytes/" + std::to_string(MiB)});
    CHECK(occurrences(out, "\"status\": 200") == 100);
    CHECK(occurrences(out, "\"length\": " + std::to_string(MiB) + ",") == 100);
    CHECK(occurrences(out, "\"pattern\": true") == 100);
    proxy.stop();
    hello.stop();
  }

  TEST_CASE("100 concurrent 1 MiB uploads of one connection spread over upstream connections") {
    test_support::TestDir dir;
    Upstream upstream;
    ProxyServer proxy(dir, {"--upstream", upstream.url()});
    const std::string out = h2_client(proxy, {"--count", "100", "--method", "POST", "--path",
                                              "/digest", "--body-bytes", std::to_string(MiB)});
    // The upstream hashed each body: all 100 the same MiB of the pattern.
    const std::regex answer(R"("body": "1048576 ([0-9a-f]{64})\\n")");
    std::vector<std::string> digests;
    for (auto it = std::sregex_iterator(out.begin(), out.end(), answer);
         it != std::sregex_iterator(); ++it)
      digests.push_back((*it)[1]);
    REQUIRE(digests.size() == 100);
    for (const auto& d : digests) CHECK(d == digests.front());
    Process python({"python3", "-c",
                    "import hashlib; print(hashlib.sha256((bytes(range(251)) * 4200)"
                    "[:1048576]).hexdigest())"});
    CHECK(output_of(python) == digests.front() + "\n");
    // Streams in flight at once each took their own upstream connection.
    const int connections = std::stoi(curl({"--http2", proxy.url("/connections")}));
    CHECK(connections > 1);
    proxy.stop();
  }

  TEST_CASE("h2load: 2000 requests, 10 streams at a time on each of 2 connections, all 2xx") {
    test_support::TestDir dir;
    HelloServer hello({});
    ProxyServer proxy(dir, {"--upstream", hello.url("")});
    Process load({"h2load", "-n", "2000", "-c", "2", "-m", "10", proxy.url("/")});
    const std::string out = output_of(load, 90s);
    CHECK_MESSAGE(contains(out, "2000 succeeded, 0 failed, 0 errored"), out);
    CHECK_MESSAGE(contains(out, "status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx"), out);
    proxy.stop();
    hello.stop();
  }

  TEST_CASE("the access log names the protocol and stream, and /metrics counts by protocol") {
    test_support::TestDir dir;
    HelloServer hello({});
    const std::string log = dir.path("access.log");
    ProxyServer proxy(dir,
                      {"--upstream", hello.url(""), "--access-log", log, "--admin", "127.0.0.1:0"});
    const std::string admin = integration::admin_port(proxy);
    const std::string out = h2_client(proxy, {"--count", "3", "--path", "/"});
    CHECK(occurrences(out, "\"status\": 200") == 3);
    CHECK(curl({"--http1.1", proxy.url("/")}) == "hello from tlsreactor\n");
    const std::string metrics = curl({"http://127.0.0.1:" + admin + "/metrics"});
    CHECK_MESSAGE(contains(metrics, "requests_by_protocol_total{protocol=\"HTTP/2\"} 3\n"),
                  metrics);
    CHECK_MESSAGE(contains(metrics, "requests_by_protocol_total{protocol=\"HTTP/1.1\"} 1\n"),
                  metrics);
    proxy.stop();
    const std::string lines = test_support::TestDir::read(log);
    CHECK_MESSAGE(contains(lines, " alpn=h2 "), lines);
    CHECK_MESSAGE(occurrences(lines, " protocol=HTTP/2 stream=") == 3, lines);
    for (const char* stream : {"HTTP/2 stream=1 ", "HTTP/2 stream=3 ", "HTTP/2 stream=5 "})
      CHECK_MESSAGE(contains(lines, stream), lines);
    CHECK_MESSAGE(contains(lines, " protocol=HTTP/1.1 stream=0 "), lines);
    hello.stop();
  }

  TEST_CASE("--http2 off offers only http/1.1, and --plain takes h2c with prior knowledge") {
    test_support::TestDir dir;
    HelloServer hello({});
    ProxyServer off(dir, {"--upstream", hello.url(""), "--http2", "off"});
    CHECK(curl({"--http2", "-o", "/dev/null", "-w", kCodeVersion, off.url("/")}) == "200 1.1\n");
    off.stop();

    ProxyServer plain(dir, {"--upstream", hello.url("")}, true);
    CHECK(curl({"--http2-prior-knowledge", "-o", "/dev/null", "-w", kCodeVersion,
                plain.url("/")}) == "200 2\n");
    CHECK(curl({"-o", "/dev/null", "-w", kCodeVersion, plain.url("/")}) == "200 1.1\n");
    plain.stop();
    hello.stop();
  }

  TEST_CASE("a WebSocket over HTTP/2 (RFC 8441) reaches hello's /ws as an HTTP/1.1 Upgrade") {
    test_support::TestDir dir;
    HelloServer hello({});
    const std::string log = dir.path("access.log");
    ProxyServer proxy(dir, {"--upstream", hello.url(""), "--access-log", log});
    // 20 messages of 100 KB each way: more than a stream window, so both directions wait on
    // flow control and the upstream's reading.
    Process client = python_peer("h2_websocket.py", {"--port", proxy.port_text(), "--path", "/ws",
                                                     "--count", "20", "--bytes", "100000"});
    CHECK(output_of(client, 90s) == "status 200\nok: 20 echoes\nclosed 1000\n");
    // A path that is no WebSocket: hello answers 200 without switching, which must not pass
    // for an open tunnel.
    Process refused = python_peer(
        "h2_websocket.py", {"--port", proxy.port_text(), "--path", "/bytes/10", "--count", "1"});
    CHECK(integration::finish(refused, 30s) == 1);
    CHECK_MESSAGE(contains(refused.transcript(), "the CONNECT was answered 502"),
                  refused.transcript());
    proxy.stop();
    const std::string lines = test_support::TestDir::read(log);
    CHECK_MESSAGE(contains(lines, "\"CONNECT /ws\" 200 "), lines);
    hello.stop();
  }

  TEST_CASE("SIGTERM lets an HTTP/2 stream in flight finish, then the proxy exits 0") {
    test_support::TestDir dir;
    Upstream upstream;
    ProxyServer proxy(dir, {"--upstream", upstream.url()});
    const std::string release = dir.path("release");
    // curl, which takes the GOAWAY of a drain as it should (Python's h2 4.1 refuses frames
    // after one).
    Process client({"curl", "--silent", "--show-error", "--insecure", "--max-time", "60", "--http2",
                    "-w", "\n" + kCodeVersion, proxy.url("/until?file=" + release)});
    const auto received = upstream.process().read_line(30s);
    REQUIRE_MESSAGE(received.has_value(), upstream.process().transcript());
    CHECK(contains(*received, "received /until"));
    proxy.process().signal(SIGTERM);
    std::ofstream(release).put('\n');
    CHECK(output_of(client, 60s) == "released\n\n200 2\n");
    CHECK(integration::finish(proxy.process(), 30s) == 0);
  }
}
