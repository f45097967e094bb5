// tlsreactor-hello over HTTP/2 and the choice of protocol per connection (select_http_version),
// against clients nobody here wrote: curl (--http2 over TLS by ALPN, --http2-prior-knowledge on
// the plain listener), nghttp and h2load from nghttp2-client. The routes are the ones
// HelloTests runs over HTTP/1.1: one HelloExchange behind both protocols.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/Peers.hpp"
#include "tests/support/Pattern.hpp"
#include "tests/support/TestDir.hpp"

using namespace std::chrono_literals;
using integration::contains;
using integration::HelloServer;
using integration::output_of;
using integration::Process;

namespace {

std::string curl(std::vector<std::string> args) {
  std::vector<std::string> argv{"curl", "--silent", "--show-error", "--max-time", "60"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process peer(std::move(argv));
  return output_of(peer, 65s);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// tlsreactor-hello --tls with a development certificate and a --root holding one file.
struct TlsHello {
  explicit TlsHello(const test_support::TestDir& dir, std::vector<std::string> extra = {})
      : ca(dir.path("certs/ca.pem")), server(options(dir, std::move(extra))) {}
  static std::vector<std::string> options(const test_support::TestDir& dir,
                                          std::vector<std::string> extra) {
    std::filesystem::create_directories(dir.path("root"));
    std::ofstream(dir.path("root/page.txt")) << "a page under --root\n";
    std::vector<std::string> all{"--tls", "--dev-cert-dir", dir.path("certs"), "--root",
                                 dir.path("root")};
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  }
  std::string url(const std::string& path) const {
    return "https://localhost:" + server.port_text() + path;
  }
  std::string ca;
  HelloServer server;
};

}  // namespace

TEST_CASE("select_http_version: ALPN h2 and the plain preface get HTTP/2, the rest HTTP/1.1") {
  test_support::TestDir dir;
  TlsHello tls(dir);
  HelloServer plain({});
  const std::string version = "%{http_version}\n";
  // Over TLS the protocol ALPN agreed decides; curl offers h2 first unless told otherwise.
  CHECK(curl({"--http2", "--cacert", tls.ca, "-o", "/dev/null", "-w", version, tls.url("/")}) ==
        "2\n");
  CHECK(curl({"--http1.1", "--cacert", tls.ca, "-o", "/dev/null", "-w", version, tls.url("/")}) ==
        "1.1\n");
  // Over plain TCP the first bytes decide: the HTTP/2 preface, or an HTTP/1.1 request line.
  CHECK(curl({"--http2-prior-knowledge", "-o", "/dev/null", "-w", version, plain.url("/")}) ==
        "2\n");
  CHECK(curl({"-o", "/dev/null", "-w", version, plain.url("/")}) == "1.1\n");
  tls.server.stop();
  plain.stop();
}

TEST_CASE("hello over h2 by ALPN: /, /bytes/N byte-exact, /files and an 8 MiB POST /echo") {
  test_support::TestDir dir;
  TlsHello tls(dir);
  const std::string w = "%{http_version} %{http_code} %{size_download}\n";
  CHECK(curl({"--http2", "--cacert", tls.ca, "-w", w, tls.url("/")}) ==
        "hello from tlsreactor\n2 200 22\n");

  const std::uint64_t n = 3 * 1024 * 1024 + 7;  // not a multiple of a chunk or a frame
  CHECK(curl({"--http2", "--cacert", tls.ca, "-o", dir.path("bytes"), "-w", w,
              tls.url("/bytes/" + std::to_string(n))}) == "2 200 " + std::to_string(n) + "\n");
  auto verify = integration::python_peer(
      "http_peer.py", {"verify-file", "--file", dir.path("bytes"), "--bytes", std::to_string(n)});
  integration::check_peer_succeeds(verify);

  CHECK(curl({"--http2", "--cacert", tls.ca, "-w", w, tls.url("/files/page.txt")}) ==
        "a page under --root\n2 200 20\n");
  CHECK(curl({"--http2", "--cacert", tls.ca, "-o", "/dev/null", "-w", w,
              tls.url("/files/missing")}) == "2 404 10\n");

  const std::string body = test_support::pattern(8 << 20, 11);
  std::ofstream(dir.path("body"), std::ios::binary) << body;
  CHECK(curl({"--http2", "--cacert", tls.ca, "--data-binary", "@" + dir.path("body"), "-o",
              dir.path("echoed"), "-w", w, tls.url("/echo")}) == "2 200 8388608\n");
  CHECK(read_file(dir.path("echoed")) == body);
  tls.server.stop();
}

TEST_CASE("hello over h2: HEAD has no body and GET /ws answers 426 (no RFC 8441)") {
  test_support::TestDir dir;
  TlsHello tls(dir);
  const auto head = curl({"--http2", "--cacert", tls.ca, "--head", tls.url("/bytes/1000")});
  CHECK_MESSAGE(contains(head, "HTTP/2 200"), head);
  CHECK_MESSAGE(contains(head, "content-length: 1000"), head);
  CHECK(curl({"--http2", "--cacert", tls.ca, "-o", "/dev/null", "-w",
              "%{http_version} %{http_code}\n", tls.url("/ws")}) == "2 426\n");
  tls.server.stop();
}

TEST_CASE("hello on the plain listener answers curl --http2-prior-knowledge over h2c") {
  HelloServer server({});
  const std::string w = "%{http_version} %{http_code} %{size_download}\n";
  CHECK(curl({"--http2-prior-knowledge", "-w", w, server.url("/")}) ==
        "hello from tlsreactor\n2 200 22\n");
  CHECK(curl({"--http2-prior-knowledge", "-o", "/dev/null", "-w", w,
              server.url("/bytes/1048576")}) == "2 200 1048576\n");
  CHECK(curl({"--http2-prior-knowledge", "-X", "PUT", "-o", "/dev/null", "-w", w,
              server.url("/")}) == "2 405 19\n");
  server.stop();
}

TEST_CASE("nghttp fetches four URLs as concurrent streams of one h2c connection") {
  HelloServer server({});
  // -n: discard the bodies; -s: one line per stream ("id responseEnd requestStart process code
  // size path"). nghttp opens one connection per authority and sends every request at once.
  Process nghttp({"nghttp", "-ns", server.url("/"), server.url("/bytes/100000"),
                  server.url("/bytes/3000000"), server.url("/nope")});
  const std::string out = output_of(nghttp, 60s);
  INFO(out);
  const std::regex row(R"(\n\s*(\d+)\s+\S+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+(\S+))");
  std::vector<std::string> seen;
  std::vector<int> ids;
  for (std::sregex_iterator it(out.begin(), out.end(), row), end; it != end; ++it) {
    seen.push_back((*it)[2].str() + " " + (*it)[3].str());
    ids.push_back(std::stoi((*it)[1].str()));
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen ==
        std::vector<std::string>{"200 /", "200 /bytes/100000", "200 /bytes/3000000", "404 /nope"});
  // Four client streams (odd ids), all different: one connection, not four.
  std::sort(ids.begin(), ids.end());
  REQUIRE(ids.size() == 4);
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  for (const int id : ids) CHECK(id % 2 == 1);
  server.stop();
}

TEST_CASE("h2load's 2,000 requests over TLS, 10 connections x 10 streams, are all 2xx") {
  test_support::TestDir dir;
  TlsHello tls(dir);
  Process h2load({"h2load", "-n", "2000", "-c", "10", "-m", "10", tls.url("/")});
  const std::string out = output_of(h2load, 60s);
  INFO(out);
  CHECK(contains(out, "Application protocol: h2"));
  CHECK(contains(
      out, "requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored"));
  CHECK(contains(out, "status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx"));
  tls.server.stop();
}

TEST_CASE("--http2 off: curl --http2 gets HTTP/1.1 by ALPN and the h2c preface is refused") {
  test_support::TestDir dir;
  TlsHello tls(dir, {"--http2", "off"});
  CHECK(curl({"--http2", "--cacert", tls.ca, "-o", "/dev/null", "-w", "%{http_version}\n",
              tls.url("/")}) == "1.1\n");
  HelloServer plain({"--http2", "off"});
  // The preface is no HTTP/1.1 request: llhttp refuses it with 400 and the connection closes.
  Process pk({"curl", "--silent", "--max-time", "30", "--http2-prior-knowledge", "-o", "/dev/null",
              "-w", "%{http_version} %{http_code}\n", plain.url("/")});
  std::string out;
  while (auto line = pk.read_line(40s)) out += *line + "\n";
  CHECK_MESSAGE(integration::finish(pk, 40s) != 0, pk.transcript());
  CHECK_MESSAGE(!contains(out, "2 200"), out);
  CHECK(curl({"-o", "/dev/null", "-w", "%{http_version} %{http_code}\n", plain.url("/")}) ==
        "1.1 200\n");
  tls.server.stop();
  plain.stop();
}
