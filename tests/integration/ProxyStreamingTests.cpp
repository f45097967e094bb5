// tlsreactor-proxy as a reverse proxy between real peers: nginx as an HTTPS upstream, large
// bodies streamed byte-exact in both directions while the proxy's memory stays bounded, and
// python3's http.client reusing one keep-alive connection.
#include <doctest/doctest.h>

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/Nginx.hpp"
#include "tests/integration/Peers.hpp"
#include "tests/integration/ProxyPeers.hpp"
#include "tests/support/TestDir.hpp"
#include "tests/support/TestPki.hpp"

using namespace std::chrono_literals;
using integration::AppServer;
using integration::HelloServer;
using integration::output_of;
using integration::Process;
using integration::python_peer;
using integration::sha256_of;
using integration::write_noise;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;
// How much the proxy's peak RSS may grow over its RSS before a transfer. It streams, so a body
// never has to fit in it: well below every transfer size here, and far above what a few socket
// buffers take (about 1 MiB in a debug build; under ASan its allocator, capped quarantine and
// shadow pages add some 40 MiB).
constexpr std::uint64_t growth_bound = 64 * MiB;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ASan keeps freed blocks in a quarantine (256 MiB by default) to catch use-after-free; that is
// the sanitizer's memory, not the proxy's, so it is capped for the proxy child. Other builds
// ignore the variable.
class CappedAsanQuarantine {
 public:
  CappedAsanQuarantine() {
    const char* old = std::getenv("ASAN_OPTIONS");
    if (old != nullptr) old_ = old;
    const std::string capped = (old_ ? *old_ + ":" : std::string()) + "quarantine_size_mb=16";
    ::setenv("ASAN_OPTIONS", capped.c_str(), 1);
  }
  ~CappedAsanQuarantine() {
    if (old_)
      ::setenv("ASAN_OPTIONS", old_->c_str(), 1);
    else
      ::unsetenv("ASAN_OPTIONS");
  }
  CappedAsanQuarantine(const CappedAsanQuarantine&) = delete;
  CappedAsanQuarantine& operator=(const CappedAsanQuarantine&) = delete;

 private:
  std::optional<std::string> old_;
};

// tlsreactor-proxy over TLS with its development certificate, in front of `upstream_args`.
class Proxy {
 public:
  Proxy(const test_support::TestDir& dir, std::vector<std::string> upstream_args)
      : cert_dir_(dir.path("proxy")),
        server_(TLSREACTOR_PROXY_BIN, options(upstream_args), "127.0.0.1:0", 1) {}

  AppServer& server() { return server_; }
  pid_t pid() { return server_.process().pid(); }
  std::string ca_file() const { return cert_dir_ + "/ca.pem"; }
  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + server_.port_text() + path;
  }
  // curl over HTTP/1.1 (these are its streaming tests), verifying the proxy against its dev
  // CA, bounded below CTest's 120 s backstop (a 1 GiB
  // transfer takes about 5 s, under ASan too).
  std::vector<std::string> curl(const std::string& path, std::vector<std::string> extra) const {
    std::vector<std::string> argv{"curl", "--silent", "--show-error", "--max-time",
                                  "100",  "--cacert", ca_file(),      "--http1.1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url(path));
    return argv;
  }

 private:
  std::vector<std::string> options(std::vector<std::string> upstream_args) const {
    std::vector<std::string> all{"--dev-cert-dir", cert_dir_};
    all.insert(all.end(), upstream_args.begin(), upstream_args.end());
    return all;
  }

  std::string cert_dir_;
  CappedAsanQuarantine asan_;  // before server_: set when the child starts
  AppServer server_;
};

// VmRSS and VmHWM (the peak RSS) of a process, from /proc/PID/status.
struct Memory {
  std::uint64_t rss = 0;
  std::uint64_t peak = 0;
};

Memory memory_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  REQUIRE(status.good());
  Memory m;
  std::string name;
  std::uint64_t kib = 0;
  while (status >> name) {
    if (name == "VmRSS:" && status >> kib) m.rss = kib * 1024;
    if (name == "VmHWM:" && status >> kib) m.peak = kib * 1024;
    status.ignore(1 << 16, '\n');
  }
  REQUIRE(m.rss > 0);
  return m;
}

// Waits for `client` (at most `timeout`), sampling `watched`'s memory every 100 ms meanwhile;
// returns the client's exit code (-1 when it did not finish) and the largest figures seen.
std::pair<int, Memory> run_watching(Process& client, pid_t watched,
                                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Memory seen;
  std::optional<int> code;
  while (!code && std::chrono::steady_clock::now() < deadline) {
    const Memory now = memory_of(watched);
    seen.rss = std::max(seen.rss, now.rss);
    seen.peak = std::max(seen.peak, now.peak);
    code = client.wait(100ms);
  }
  const Memory last = memory_of(watched);
  seen.peak = std::max(seen.peak, last.peak);
  return {code.value_or(-1), seen};
}

void report(const char* what, const Memory& before, const Memory& during) {
  std::printf("%s: proxy RSS %.1f MiB before, largest sampled VmRSS %.1f MiB, VmHWM %.1f MiB\n",
              what, static_cast<double>(before.rss) / MiB, static_cast<double>(during.rss) / MiB,
              static_cast<double>(during.peak) / MiB);
  std::fflush(stdout);
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// peers/upstream_peer.py (POST /digest answers "LENGTH SHA256", GET /connections counts).
struct DigestUpstream {
  DigestUpstream() : process(python_peer("upstream_peer.py", {})) {
    const auto line = process.read_line(20s);
    const std::string prefix = "upstream_peer: listening on ";
    REQUIRE_MESSAGE((line && line->starts_with(prefix)), process.transcript());
    address = line->substr(prefix.size());
  }
  std::string url() const { return "http://" + address; }

  Process process;
  std::string address;
};

}  // namespace

TEST_SUITE("proxy-streaming") {
  TEST_CASE("the proxy forwards GET and HEAD to an nginx upstream over verified TLS") {
    test_support::TestDir dir;
    test_support::TestPki pki;
    integration::Nginx nginx(dir, {pki.ecdsa.leaf.cert_file, pki.ecdsa.leaf.key_file, "", ""});
    std::string page;
    for (int i = 0; i < 20000; ++i) page += "line " + std::to_string(i) + "\n";
    nginx.static_file("page.txt", page);
    Proxy proxy(dir, {"--upstream", nginx.url(""), "--upstream-ca", pki.ecdsa.ca_file});

    Process root(proxy.curl("/", {}));
    CHECK(output_of(root) == "hello from nginx\n");

    const std::string saved = dir.path("page.txt");
    Process file(
        proxy.curl("/static/page.txt", {"--output", saved, "--write-out", "%{http_code}\n"}));
    CHECK(output_of(file) == "200\n");
    CHECK(test_support::TestDir::read(saved) == page);

    Process head(proxy.curl("/static/page.txt", {"--head"}));
    const std::string head_out = output_of(head);
    CHECK_MESSAGE(head_out.starts_with("HTTP/1.1 200"), head_out);
    CHECK_MESSAGE(has(head_out, "Content-Length: " + std::to_string(page.size())), head_out);

    // What nginx received: Host kept, the forwarding headers added.
    Process headers(proxy.curl("/headers", {}));
    const std::string seen = output_of(headers);
    CHECK_MESSAGE(has(seen, "host=127.0.0.1:" + proxy.server().port_text() + " "), seen);
    CHECK_MESSAGE(has(seen, "xff=127.0.0.1 "), seen);
    CHECK_MESSAGE(has(seen, "proto=https "), seen);
    CHECK_MESSAGE(has(seen, "via=1.1 tlsreactor"), seen);

    proxy.server().stop();
    nginx.stop();
  }

  TEST_CASE("an nginx upstream whose certificate the upstream CA did not sign gets 502") {
    test_support::TestDir dir;
    test_support::TestPki pki;
    integration::Nginx nginx(dir, {pki.ecdsa.leaf.cert_file, pki.ecdsa.leaf.key_file, "", ""});
    Proxy proxy(dir, {"--upstream", nginx.url(""), "--upstream-ca", pki.client.ca_file});
    Process curl(proxy.curl("/", {"--write-out", "\n%{http_code}\n"}));
    const std::string out = output_of(curl);
    CHECK_MESSAGE(out.ends_with("\n502\n"), out);
    CHECK_MESSAGE(!has(out, "hello from nginx"), out);
    proxy.server().stop();
    nginx.stop();
  }

  TEST_CASE("a 1 GiB download streams byte-exact through the proxy in bounded memory") {
    constexpr std::uint64_t size = 1024 * MiB;
    test_support::TestDir dir;
    HelloServer hello({});
    Proxy proxy(dir, {"--upstream", hello.url("")});
    const Memory before = memory_of(proxy.pid());

    const std::string saved = dir.path("download");
    Process curl(proxy.curl("/bytes/" + std::to_string(size),
                            {"--output", saved, "--write-out", "%{http_code} %{size_download}\n"}));
    const auto [code, during] = run_watching(curl, proxy.pid(), 105s);
    REQUIRE_MESSAGE(code == 0, curl.transcript());
    CHECK(first_line(output_of(curl)) == "200 " + std::to_string(size));
    report("1 GiB download", before, during);
    CHECK(during.peak - before.rss < growth_bound);

    auto verify = python_peer("http_peer.py",
                              {"verify-file", "--file", saved, "--bytes", std::to_string(size)});
    integration::check_peer_succeeds(verify, 60s);
    proxy.server().stop();
    hello.stop();
  }

  TEST_CASE("a 256 MiB upload streams byte-exact with Content-Length and chunked") {
    constexpr std::uint64_t size = 256 * MiB;
    test_support::TestDir dir;
    DigestUpstream upstream;
    Proxy proxy(dir, {"--upstream", upstream.url()});
    const std::string file = write_noise(dir, "upload", size);
    const std::string expected = std::to_string(size) + " " + sha256_of(file) + "\n";

    struct Variant {
      const char* name;
      std::vector<std::string> headers;
    };
    const std::vector<Variant> variants{
        {"256 MiB upload, Content-Length", {}},
        {"256 MiB upload, chunked", {"--header", "Transfer-Encoding: chunked"}},
    };
    for (const auto& variant : variants) {
      CAPTURE(variant.name);
      const Memory before = memory_of(proxy.pid());
      std::vector<std::string> args{"--upload-file", file, "--request", "POST"};
      args.insert(args.end(), variant.headers.begin(), variant.headers.end());
      Process curl(proxy.curl("/digest", args));
      const auto [code, during] = run_watching(curl, proxy.pid(), 105s);
      REQUIRE_MESSAGE(code == 0, curl.transcript());
      const std::string answer = output_of(curl);
      CHECK(answer == expected);
      report(variant.name, before, during);
      CHECK(during.peak - before.rss < growth_bound);
    }
    proxy.server().stop();
  }

  TEST_CASE("python http.client reuses one keep-alive connection, and the proxy one upstream") {
    test_support::TestDir dir;
    DigestUpstream upstream;
    Proxy proxy(dir, {"--upstream", upstream.url()});
    auto client = python_peer(
        "keepalive_client.py",
        {"--port", proxy.server().port_text(), "--cafile", proxy.ca_file(), "--requests", "7"});
    const std::string out = output_of(client);
    CHECK_MESSAGE(has(out, "response 7: 200 via=1.1 tlsreactor "), out);
    CHECK_MESSAGE(has(out, "client connections: 1\n"), out);
    // Sequential requests never need a second upstream connection when idle ones are pooled.
    CHECK_MESSAGE(has(out, "upstream connections: 1\n"), out);
    proxy.server().stop();
  }
}
