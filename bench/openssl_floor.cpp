// Benchmark (not a test): OpenSSL 3.0's own floor on this CPU, the least server CPU and memory
// any OpenSSL server can spend per operation. A client and a server SSL in one process and one
// thread, each over two memory BIOs, no sockets; plain OpenSSL calls only (tlsreactor code
// mints the development certificates and reads /proc, outside every measured region).
//
// Usage:
//   bench-openssl-floor [--handshakes N] [--records N] [--idle N] [--reps N] [--tickets N]
//                       [--rsa-bits 2048|4096] [--cert PEM --key PEM] [--json]
//     --handshakes N  handshakes of each kind per repetition (default 200)
//     --records N     small request/response pairs and 16 KiB records per repetition (20000)
//     --idle N        idle server SSL objects for the memory figure (1000)
//     --reps N        repetitions; every timed figure is their median (5)
//     --tickets N     SSL_CTX_set_num_tickets on the server, at least 1 for the resumed row
//                     (default 1, as tls::ServerConfig's tickets_per_handshake)
//     --cert/--key    the server's chain (leaf first) and key for every ECDSA row, instead of a
//                     fresh development P-256 certificate (CA + leaf)
//     --json          one JSON object: full_ecdsa_us, full_rsa_us, resumed_us, small_pair_us,
//                     record16k_us, record16k_mbps, idle_kib_bios_kept, idle_kib_bios_released
//
// What is measured (TLS 1.3 only, x25519, TLS_AES_256_GCM_SHA384):
// - Server CPU: clock_gettime(CLOCK_THREAD_CPUTIME_ID) around the server's SSL calls only
//   (SSL_new, SSL_do_handshake, SSL_read_ex, SSL_write_ex, SSL_free); the client's work and the
//   copying of ciphertext between the BIOs are left out.
// - full_*: a new client SSL without a session each time; every one is checked to be full
//   (SSL_session_reused() == 0) and counted. The server sends its ticket(s) inside the timed
//   region, as a real server does.
// - resumed: each handshake offers the ticket of the one before (psk_dhe_ke, OpenSSL's client
//   default); every one is checked to be resumed.
// - small_pair: on an established connection the server reads an 80-byte request and writes a
//   100-byte response; timed in batches of 32 so the clock's own cost stays out.
// - record16k: the server writes 16 KiB of plaintext (one full record) on an established
//   connection, in batches of 16. It includes the memory BIO's share: the copy of the record
//   into the BIO and the zeroing of the space it lands in (BUF_MEM_grow_clean).
// - idle: N server SSLs with SSL_MODE_RELEASE_BUFFERS, each handshaked fully and served one
//   small request, the client freed right after; the RSS growth (VmRSS, after malloc_trim) per
//   object. Two passes, each in a child forked from the same state: with the memory BIOs as the
//   traffic left them (a memory BIO keeps the capacity it grew to), and with fresh empty BIOs
//   swapped in right after each request. The table adds malloc's heap-in-use growth per object.
#include <malloc.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#ifdef TLSREACTOR_HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(label) (void)(label)
#endif

#include "tests/support/ProcStats.hpp"
#include "tls/DevCert.hpp"
#include "tls/Ptr.hpp"

namespace {

using tls::BioPtr;
using tls::EvpPkeyPtr;
using tls::SessionPtr;
using tls::SslCtxPtr;
using tls::SslPtr;
using tls::X509Ptr;

constexpr std::size_t request_size = 80;
constexpr std::size_t response_size = 100;
constexpr std::size_t record_size = 16384;
constexpr int pair_batch = 32;
constexpr int record_batch = 16;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench-openssl-floor: %s\n", what.c_str());
  ERR_print_errors_fp(stderr);
  std::exit(1);
}

double cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Server CPU spent so far; each server call runs through add().
struct ServerClock {
  double us = 0;
  template <typename Call>
  auto add(Call&& call) {
    const double start = cpu_us();
    CALLGRIND_TOGGLE_COLLECT;
    auto result = call();
    CALLGRIND_TOGGLE_COLLECT;
    us += cpu_us() - start;
    return result;
  }
};

// Under `valgrind --tool=callgrind --collect-atstart=no` (bench/callgrind.sh) each phase is a
// dump of its own, "floor <phase> <operations>", holding the instructions of the server's
// calls only (ServerClock::add collects); natively this just runs `work`.
template <typename Work>
void phase(const std::string& name, long operations, Work&& work) {
  CALLGRIND_ZERO_STATS;
  work();
  // Named: a temporary would be gone before the client request reads it.
  const std::string label = "floor " + name + " " + std::to_string(operations);
  CALLGRIND_DUMP_STATS_AT(label.c_str());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

struct Options {
  int handshakes = 200;
  int records = 20000;
  int idle = 1000;
  int reps = 5;
  int tickets = 1;
  int rsa_bits = 2048;
  std::string cert;
  std::string key;
  bool json = false;
};

Options parse(int argc, char** argv) {
  Options o;
  const std::array<std::pair<const char*, int*>, 6> numbers{{{"--handshakes", &o.handshakes},
                                                             {"--records", &o.records},
                                                             {"--idle", &o.idle},
                                                             {"--reps", &o.reps},
                                                             {"--tickets", &o.tickets},
                                                             {"--rsa-bits", &o.rsa_bits}}};
  const std::array<std::pair<const char*, std::string*>, 2> files{
      {{"--cert", &o.cert}, {"--key", &o.key}}};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= argc) die("unknown option or missing value: " + arg);
    const char* value = argv[++i];
    const auto number =
        std::find_if(numbers.begin(), numbers.end(), [&](const auto& n) { return arg == n.first; });
    const auto file =
        std::find_if(files.begin(), files.end(), [&](const auto& f) { return arg == f.first; });
    if (number != numbers.end()) {
      char* end = nullptr;
      const long v = std::strtol(value, &end, 10);
      if (*end != '\0' || v < 1 || v > 10'000'000)
        die(arg + " wants a count, not \"" + value + "\"");
      *number->second = static_cast<int>(v);
    } else if (file != files.end()) {
      *file->second = value;
    } else {
      die("unknown option " + arg);
    }
  }
  if (o.rsa_bits != 2048 && o.rsa_bits != 4096) die("--rsa-bits is 2048 or 4096");
  if (o.cert.empty() != o.key.empty()) die("--cert and --key go together");
  return o;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A server SSL_CTX: TLS 1.3 only, OpenSSL's defaults otherwise, serving `chain` (PEM, leaf
// first) with `key`.
SslCtxPtr server_ctx(const std::string& chain, const std::string& key, int tickets) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1) die("server SSL_CTX");
  BioPtr in(BIO_new_mem_buf(chain.data(), static_cast<int>(chain.size())));
  X509Ptr leaf(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
  if (!leaf || SSL_CTX_use_certificate(ctx.get(), leaf.get()) != 1) die("load certificate");
  while (X509Ptr ca{PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr)}) {
    if (SSL_CTX_add1_chain_cert(ctx.get(), ca.get()) != 1) die("load chain");
  }
  ERR_clear_error();  // the end of the PEM stream
  BioPtr key_in(BIO_new_mem_buf(key.data(), static_cast<int>(key.size())));
  EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(key_in.get(), nullptr, nullptr, nullptr));
  if (!pkey || SSL_CTX_use_PrivateKey(ctx.get(), pkey.get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1)
    die("load private key");
  if (SSL_CTX_set_num_tickets(ctx.get(), static_cast<std::size_t>(tickets)) != 1)
    die("set tickets");
  return ctx;
}

SslCtxPtr client_ctx() {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_ciphersuites(ctx.get(), "TLS_AES_256_GCM_SHA384") != 1)
    die("client SSL_CTX");
  // The client's cost is not measured: it checks nothing.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
}

BIO* empty_bio() {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) die("BIO_new");
  BIO_set_mem_eof_return(bio, -1);  // empty means "no data yet"
  return bio;
}

// Moves every ciphertext byte waiting in `from` into `to`.
void move_bytes(BIO* from, BIO* to) {
  std::array<char, 16384> buf;
  for (int n; (n = BIO_read(from, buf.data(), static_cast<int>(buf.size()))) > 0;) {
    if (BIO_write(to, buf.data(), n) != n) die("BIO_write");
  }
}

// A client and a server SSL wired back to back; the server's calls go through `clock`.
class Link {
 public:
  Link(SSL_CTX* server_ctx, SSL_CTX* client_ctx, ServerClock& clock, SSL_SESSION* session = nullptr,
       long server_mode = 0)
      : clock_(clock), client_(SSL_new(client_ctx)) {
    server_.reset(clock_.add([&] { return SSL_new(server_ctx); }));
    if (!server_ || !client_) die("SSL_new");
    SSL_set_mode(server_.get(), server_mode);
    s_in_ = empty_bio();
    s_out_ = empty_bio();
    c_in_ = empty_bio();
    c_out_ = empty_bio();
    SSL_set_bio(server_.get(), s_in_, s_out_);
    SSL_set_bio(client_.get(), c_in_, c_out_);
    SSL_set_accept_state(server_.get());
    SSL_set_connect_state(client_.get());
    if (session != nullptr && SSL_set_session(client_.get(), session) != 1) die("set session");
  }
  ~Link() {
    if (server_) clock_.add([&] { return (server_.reset(), 0); });
  }
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Runs the handshake to its end on both sides, then lets the client take the ticket(s).
  void handshake() {
    for (int round = 0; round < 8; ++round) {
      const int c = SSL_do_handshake(client_.get());
      move_bytes(c_out_, s_in_);
      const int s = clock_.add([&] { return SSL_do_handshake(server_.get()); });
      move_bytes(s_out_, c_in_);
      if (c == 1 && s == 1) {
        std::array<char, 64> none;
        const int n = SSL_read(client_.get(), none.data(), static_cast<int>(none.size()));
        if (n > 0 || SSL_get_error(client_.get(), n) != SSL_ERROR_WANT_READ)
          die("client: no ticket or unexpected data");
        return;
      }
    }
    die("handshake did not complete");
  }

  // `count` small requests, each read and answered by the server.
  void exchange(int count) {
    static const std::string request(request_size, 'q');
    static const std::string response(response_size, 'r');
    for (int i = 0; i < count; ++i) {
      if (SSL_write(client_.get(), request.data(), static_cast<int>(request.size())) !=
          static_cast<int>(request.size()))
        die("client write");
    }
    move_bytes(c_out_, s_in_);
    clock_.add([&] {
      std::array<char, 4096> in;
      for (int i = 0; i < count; ++i) {
        std::size_t n = 0;
        if (SSL_read_ex(server_.get(), in.data(), in.size(), &n) != 1 || n != request.size())
          die("server read");
        if (SSL_write_ex(server_.get(), response.data(), response.size(), &n) != 1)
          die("server write");
      }
      return 0;
    });
    move_bytes(s_out_, c_in_);
    std::array<char, 4096> in;
    for (int i = 0; i < count; ++i) {
      if (SSL_read(client_.get(), in.data(), static_cast<int>(in.size())) !=
          static_cast<int>(response.size()))
        die("client read");
    }
  }

  // `count` full records written by the server; the ciphertext is dropped unread.
  void write_records(int count) {
    static const std::vector<char> record(record_size, 'b');
    clock_.add([&] {
      for (int i = 0; i < count; ++i) {
        std::size_t n = 0;
        if (SSL_write_ex(server_.get(), record.data(), record.size(), &n) != 1) die("write record");
      }
      return 0;
    });
    if (BIO_reset(s_out_) != 1) die("BIO_reset");
  }

  bool reused() const { return SSL_session_reused(server_.get()) == 1; }
  SessionPtr client_session() const { return SessionPtr(SSL_get1_session(client_.get())); }
  const char* cipher() const { return SSL_get_cipher_name(server_.get()); }
  long group() const { return SSL_get_negotiated_group(server_.get()); }

  // The client ends with close_notify, which keeps its session resumable, and goes.
  SslPtr release_server() {
    SSL_shutdown(client_.get());
    client_.reset();
    return std::move(server_);
  }

 private:
  ServerClock& clock_;
  SslPtr server_;
  SslPtr client_;
  BIO* s_in_ = nullptr;  // owned by the SSLs
  BIO* s_out_ = nullptr;
  BIO* c_in_ = nullptr;
  BIO* c_out_ = nullptr;
};

struct Contexts {
  SslCtxPtr ecdsa;
  SslCtxPtr rsa;
  SslCtxPtr client;
};

// Median server µs per full handshake; `full` counts the handshakes checked to be full.
double full_handshakes(const Contexts& c, SSL_CTX* server, const Options& o, long& full) {
  std::vector<double> reps;
  for (int r = 0; r < o.reps; ++r) {
    ServerClock clock;
    for (int i = 0; i < o.handshakes; ++i) {
      Link link(server, c.client.get(), clock);
      link.handshake();
      if (link.reused()) die("a full handshake resumed");
      ++full;
    }
    reps.push_back(clock.us / o.handshakes);
  }
  return median(reps);
}

double resumed_handshakes(const Contexts& c, const Options& o, long& resumed) {
  ServerClock unmeasured;
  SessionPtr session;
  {
    Link first(c.ecdsa.get(), c.client.get(), unmeasured);
    first.handshake();
    session = first.client_session();
    first.release_server();
  }
  std::vector<double> reps;
  for (int r = 0; r < o.reps; ++r) {
    ServerClock clock;
    for (int i = 0; i < o.handshakes; ++i) {
      Link link(c.ecdsa.get(), c.client.get(), clock, session.get());
      link.handshake();
      if (!link.reused()) die("a resumption was refused: full handshake");
      if (link.group() != NID_X25519) die("a resumption without (EC)DHE");
      ++resumed;
      session = link.client_session();  // the next offers the newest ticket
      link.release_server();
    }
    reps.push_back(clock.us / o.handshakes);
  }
  return median(reps);
}

struct Traffic {
  double pair_us = 0;
  double record_us = 0;
};

Traffic traffic(const Contexts& c, const Options& o) {
  ServerClock clock;
  Link link(c.ecdsa.get(), c.client.get(), clock);
  link.handshake();
  if (std::strcmp(link.cipher(), "TLS_AES_256_GCM_SHA384") != 0 || link.group() != NID_X25519)
    die(std::string("unexpected cipher or group: ") + link.cipher());
  // --records rounded up to whole batches.
  const auto batches = [&](int batch) { return (o.records + batch - 1) / batch; };
  link.exchange(pair_batch);  // warm
  std::vector<double> pairs, records;
  phase("small_pair", long{o.reps} * batches(pair_batch) * pair_batch, [&] {
    for (int r = 0; r < o.reps; ++r) {
      clock.us = 0;
      for (int done = 0; done < o.records; done += pair_batch) link.exchange(pair_batch);
      pairs.push_back(clock.us / (batches(pair_batch) * pair_batch));
    }
  });
  // The records' ciphertext is dropped unread, so the client cannot read after this.
  link.write_records(record_batch);
  phase("record_16k", long{o.reps} * batches(record_batch) * record_batch, [&] {
    for (int r = 0; r < o.reps; ++r) {
      clock.us = 0;
      for (int done = 0; done < o.records; done += record_batch) link.write_records(record_batch);
      records.push_back(clock.us / (batches(record_batch) * record_batch));
    }
  });
  return {median(pairs), median(records)};
}

std::uint64_t rss_kib() {
  malloc_trim(0);  // freed memory (the clients') goes back to the OS first
  return test_support::status_kib(getpid(), "VmRSS");
}

// Per idle server SSL: RSS and heap in use (malloc's count), in KiB.
struct Footprint {
  double rss_kib = 0;
  double heap_kib = 0;
};

// N idle servers made in this process; with `release_bios` each gets fresh empty BIOs right
// after its request, so what its BIOs held is free for the next connection to reuse.
Footprint idle_pass(const Contexts& c, int n, bool release_bios) {
  ServerClock unmeasured;
  std::vector<SslPtr> servers;
  servers.reserve(static_cast<std::size_t>(n));
  const std::uint64_t rss_before = rss_kib();
  const std::size_t heap_before = mallinfo2().uordblks;
  for (int i = 0; i < n; ++i) {
    Link link(c.ecdsa.get(), c.client.get(), unmeasured, nullptr, SSL_MODE_RELEASE_BUFFERS);
    link.handshake();
    if (link.reused()) die("an idle connection resumed");
    link.exchange(1);
    servers.push_back(link.release_server());
    if (release_bios) SSL_set_bio(servers.back().get(), empty_bio(), empty_bio());
  }
  const double rss = static_cast<double>(rss_kib()) - static_cast<double>(rss_before);
  const double heap = static_cast<double>(mallinfo2().uordblks) - static_cast<double>(heap_before);
  return {rss / n, heap / 1024 / n};
}

// Each pass runs in a child process forked from the same state, so neither inherits the
// other's freed and fragmented heap; the child reports through a pipe.
Footprint idle_in_child(const Contexts& c, int n, bool release_bios) {
  std::array<int, 2> fds{};
  if (pipe(fds.data()) != 0) die("pipe");
  const pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(fds[0]);
    const Footprint f = idle_pass(c, n, release_bios);
    const bool ok = write(fds[1], &f, sizeof f) == static_cast<ssize_t>(sizeof f);
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  Footprint f;
  const bool got = read(fds[0], &f, sizeof f) == static_cast<ssize_t>(sizeof f);
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("the idle pass failed");
  return f;
}

struct Idle {
  Footprint kept;
  Footprint released;
};

Idle idle_memory(const Contexts& c, const Options& o) {
  {
    ServerClock unmeasured;  // first use of everything, before either pass forks
    Link warm(c.ecdsa.get(), c.client.get(), unmeasured, nullptr, SSL_MODE_RELEASE_BUFFERS);
    warm.handshake();
    warm.exchange(1);
  }
  return {idle_in_child(c, o.idle, false), idle_in_child(c, o.idle, true)};
}

Contexts contexts(const Options& o) {
  Contexts c;
  if (o.cert.empty()) {
    const tls::dev::Pem ecdsa = tls::dev::generate({"localhost"}, tls::dev::KeyType::ecdsa_p256);
    c.ecdsa = server_ctx(ecdsa.cert + ecdsa.ca_cert, ecdsa.key, o.tickets);
  } else {
    const std::string chain = read_all(o.cert);
    c.ecdsa = server_ctx(chain, read_all(o.key), o.tickets);
  }
  const tls::dev::Pem rsa =
      tls::dev::generate({"localhost"}, o.rsa_bits == 4096 ? tls::dev::KeyType::rsa_4096
                                                           : tls::dev::KeyType::rsa_2048);
  c.rsa = server_ctx(rsa.cert + rsa.ca_cert, rsa.key, o.tickets);
  c.client = client_ctx();
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const Contexts c = contexts(o);
  {
    // One of each first: OpenSSL fetches and caches its algorithms on first use.
    ServerClock unmeasured;
    for (SSL_CTX* server : {c.ecdsa.get(), c.rsa.get()}) {
      Link warm(server, c.client.get(), unmeasured);
      warm.handshake();
      warm.exchange(1);
    }
  }
  long full = 0;
  long resumed = 0;
  const long handshakes = long{o.reps} * o.handshakes;
  double ecdsa = 0;
  double rsa = 0;
  double resumption = 0;
  phase("full_handshake", handshakes, [&] { ecdsa = full_handshakes(c, c.ecdsa.get(), o, full); });
  phase("full_handshake_rsa", handshakes, [&] { rsa = full_handshakes(c, c.rsa.get(), o, full); });
  phase("resumed_handshake", handshakes, [&] { resumption = resumed_handshakes(c, o, resumed); });
  const Traffic t = traffic(c, o);
  const Idle idle = idle_memory(c, o);
  const double mbps = static_cast<double>(record_size) / t.record_us;  // bytes per µs = MB/s

  if (o.json) {
    std::printf(
        "{\"full_ecdsa_us\": %.1f, \"full_rsa_us\": %.1f, \"resumed_us\": %.1f, "
        "\"small_pair_us\": %.3f, \"record16k_us\": %.3f, \"record16k_mbps\": %.0f, "
        "\"idle_kib_bios_kept\": %.2f, \"idle_kib_bios_released\": %.2f}\n",
        ecdsa, rsa, resumption, t.pair_us, t.record_us, mbps, idle.kept.rss_kib,
        idle.released.rss_kib);
    return 0;
  }
  std::printf(
      "OpenSSL %s floor, server side (TLS 1.3, x25519, TLS_AES_256_GCM_SHA384), median of "
      "%d reps; %ld full and %ld resumed handshakes checked\n",
      OpenSSL_version(OPENSSL_VERSION_STRING), o.reps, full, resumed);
  const std::string rsa_name = "full handshake RSA-" + std::to_string(o.rsa_bits);
  struct Row {
    const char* name;
    double value;
    const char* unit;
  };
  const std::array<Row, 10> rows{{
      {"full handshake ECDSA P-256", ecdsa, "µs server CPU"},
      {rsa_name.c_str(), rsa, "µs server CPU"},
      {"resumed handshake (ticket)", resumption, "µs server CPU"},
      {"small request/response pair", t.pair_us, "µs server CPU"},
      {"16 KiB record write", t.record_us, "µs server CPU"},
      {"16 KiB record write", mbps, "MB/s per server CPU second"},
      {"idle server SSL, BIOs kept", idle.kept.rss_kib, "KiB RSS"},
      {"idle server SSL, BIOs released", idle.released.rss_kib, "KiB RSS"},
      {"idle server SSL, BIOs kept", idle.kept.heap_kib, "KiB heap in use (mallinfo2)"},
      {"idle server SSL, BIOs released", idle.released.heap_kib, "KiB heap in use (mallinfo2)"},
  }};
  for (const Row& row : rows) std::printf("%-32s %10.2f  %s\n", row.name, row.value, row.unit);
  return 0;
}
