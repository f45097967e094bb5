// Benchmark (not a test): OpenSSL 3.0's own floor on this CPU, the least server CPU and memory
// any OpenSSL server can spend per operation. A client and a server SSL in one process and one
// thread, each over two memory BIOs, no sockets; plain OpenSSL calls only (tlsreactor code
// mints the development certificates and reads /proc, outside every measured region).
//
// Usage:
//   bench-openssl-floor [--handshakes N] [--records N] [--idle N] [--reps N] [--tickets N]
//                       [--rsa-bits 2048|4096] [--cert PEM --key PEM] [--sockets] [--json]
//     --handshakes N  handshakes of each kind per repetition (default 200)
//     --records N     small request/response pairs and 16 KiB records per repetition (20000)
//     --idle N        idle server SSL objects for the memory figure (1000)
//     --reps N        repetitions; every timed figure is their median (5)
//     --tickets N     SSL_CTX_set_num_tickets on the server, at least 1 for the resumed row
//                     (default 1, as tls::ServerConfig's tickets_per_handshake)
//     --cert/--key    the server's chain (leaf first) and key for every ECDSA row, instead of a
//                     fresh development P-256 certificate (CA + leaf)
//     --sockets       also the floor over loopback TCP (below); adds socket_full_ecdsa_us,
//                     socket_full_rsa_us, socket_resumed_us, socket_small_pair_us,
//                     socket_record16k_us, socket_record16k_mbps, socket_file16k_us and
//                     socket_file16k_mbps
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
// - over TCP (--sockets): the same handshakes, pairs and records, the ciphertext carried by a
//   loopback TCP connection per client; the server's socket calls are timed with its SSL calls
//   (see "The socket floor" below). Small pairs run over 32 connections with one request in
//   flight on each, so every pair costs one read() and one write(); 16 KiB records are written
//   16 at a time (256 KiB, one write() when the socket takes it all) and read by the client;
//   the file16k rows are the same with each 256 KiB first read by pread() from a 64 MiB file in
//   the page cache, as a server sending a file does.
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <utility>
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
  bool sockets = false;
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
    if (arg == "--json" || arg == "--sockets") {
      (arg == "--json" ? o.json : o.sockets) = true;
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

// A file in the page cache that a bulk row reads its plaintext from, as a file server does:
// pread() into the caller's buffer, round and round. Unlinked at once; gone with the object.
class PlainFile {
 public:
  explicit PlainFile(std::size_t size) : size_(size) {
    char path[] = "/tmp/bench-openssl-floor-XXXXXX";
    fd_ = mkstemp(path);
    if (fd_ < 0) die("mkstemp");
    unlink(path);
    const std::vector<char> block(1 << 20, 'f');
    for (std::size_t done = 0; done < size_; done += block.size()) {
      if (::write(fd_, block.data(), block.size()) != static_cast<ssize_t>(block.size()))
        die("write the plaintext file");
    }
  }
  ~PlainFile() { ::close(fd_); }
  PlainFile(const PlainFile&) = delete;
  PlainFile& operator=(const PlainFile&) = delete;

  void read_into(std::span<char> to) {
    if (offset_ + to.size() > size_) offset_ = 0;
    if (pread(fd_, to.data(), to.size(), static_cast<off_t>(offset_)) !=
        static_cast<ssize_t>(to.size()))
      die("pread");
    offset_ += to.size();
  }

 private:
  int fd_ = -1;
  std::size_t size_;
  std::size_t offset_ = 0;
};

// A client and a server SSL and the server's clock: the SSL calls of every step, the same over
// either way of carrying the ciphertext (a Link below). The server's calls go through `clock`.
class Pair {
 public:
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;

  // Runs the handshake to its end on both sides, then lets the client take the ticket(s).
  void handshake() {
    for (int round = 0; round < 8; ++round) {
      const int c = SSL_do_handshake(client_.get());
      to_server();
      const int s = clock_.add([&] {
        const int r = SSL_do_handshake(server_.get());
        server_sends();
        return r;
      });
      to_client();
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

  bool reused() const { return SSL_session_reused(server_.get()) == 1; }
  SessionPtr client_session() const { return SessionPtr(SSL_get1_session(client_.get())); }
  const char* cipher() const { return SSL_get_cipher_name(server_.get()); }
  long group() const { return SSL_get_negotiated_group(server_.get()); }

  // The client ends with close_notify, which keeps its session resumable; the server goes to
  // the caller.
  SslPtr release_server() {
    SSL_shutdown(client_.get());
    return std::move(server_);
  }

 protected:
  Pair(ServerClock& clock, SSL_CTX* client_ctx) : clock_(clock), client_(SSL_new(client_ctx)) {}
  ~Pair() = default;

  void new_server(SSL_CTX* server_ctx) {
    server_.reset(clock_.add([&] { return SSL_new(server_ctx); }));
    if (!server_ || !client_) die("SSL_new");
  }
  void start(SSL_SESSION* session) {
    SSL_set_accept_state(server_.get());
    SSL_set_connect_state(client_.get());
    if (session != nullptr && SSL_set_session(client_.get(), session) != 1) die("set session");
  }

  void client_request() {
    static const std::string request(request_size, 'q');
    if (SSL_write(client_.get(), request.data(), static_cast<int>(request.size())) !=
        static_cast<int>(request.size()))
      die("client write");
  }
  // Inside the caller's clock.
  void server_answer() {
    static const std::string response(response_size, 'r');
    std::array<char, 4096> in;
    std::size_t n = 0;
    if (SSL_read_ex(server_.get(), in.data(), in.size(), &n) != 1 || n != request_size)
      die("server read");
    if (SSL_write_ex(server_.get(), response.data(), response.size(), &n) != 1) die("server write");
  }
  void client_response() {
    std::array<char, 4096> in;
    if (SSL_read(client_.get(), in.data(), static_cast<int>(in.size())) !=
        static_cast<int>(response_size))
      die("client read");
  }
  // `count` full records; with a `source`, their plaintext is first read from it (on the clock).
  void server_records(int count, PlainFile* source = nullptr) {
    static std::vector<char> plain(record_size * record_batch, 'b');
    if (static_cast<std::size_t>(count) * record_size > plain.size()) die("too many records");
    clock_.add([&] {
      if (source != nullptr) source->read_into({plain.data(), record_size * count});
      for (int i = 0; i < count; ++i) {
        std::size_t n = 0;
        if (SSL_write_ex(server_.get(), plain.data() + i * record_size, record_size, &n) != 1)
          die("write record");
      }
      return 0;
    });
  }

  // How the ciphertext travels: client to server, server to client, and what the server does
  // with its output inside its clock.
  virtual void to_server() = 0;
  virtual void to_client() = 0;
  virtual void server_sends() {}

  ServerClock& clock_;
  SslPtr server_;
  SslPtr client_;
};

// The pair wired back to back over memory BIOs: OpenSSL's own cost and nothing else.
class Link final : public Pair {
 public:
  Link(SSL_CTX* server_ctx, SSL_CTX* client_ctx, ServerClock& clock, SSL_SESSION* session = nullptr,
       long server_mode = 0)
      : Pair(clock, client_ctx) {
    new_server(server_ctx);
    SSL_set_mode(server_.get(), server_mode);
    s_in_ = empty_bio();
    s_out_ = empty_bio();
    c_in_ = empty_bio();
    c_out_ = empty_bio();
    SSL_set_bio(server_.get(), s_in_, s_out_);
    SSL_set_bio(client_.get(), c_in_, c_out_);
    start(session);
  }
  ~Link() {
    if (server_) clock_.add([&] { return (server_.reset(), 0); });
  }
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // `count` small requests, each read and answered by the server.
  void exchange(int count) {
    for (int i = 0; i < count; ++i) client_request();
    to_server();
    clock_.add([&] {
      for (int i = 0; i < count; ++i) server_answer();
      return 0;
    });
    to_client();
    for (int i = 0; i < count; ++i) client_response();
  }

  // `count` full records written by the server; the ciphertext is dropped unread.
  void write_records(int count) {
    server_records(count);
    if (BIO_reset(s_out_) != 1) die("BIO_reset");
  }

 private:
  void to_server() override { move_bytes(c_out_, s_in_); }
  void to_client() override { move_bytes(s_out_, c_in_); }

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

// Median server µs per full handshake over links built by `make(server_ctx, clock, session)`;
// `full` counts the handshakes checked to be full.
template <typename Make>
double full_handshakes(SSL_CTX* server, const Options& o, long& full, Make&& make) {
  std::vector<double> reps;
  for (int r = 0; r < o.reps; ++r) {
    ServerClock clock;
    for (int i = 0; i < o.handshakes; ++i) {
      auto link = make(server, clock, nullptr);
      link.handshake();
      if (link.reused()) die("a full handshake resumed");
      ++full;
    }
    reps.push_back(clock.us / o.handshakes);
  }
  return median(reps);
}

template <typename Make>
double resumed_handshakes(SSL_CTX* server, const Options& o, long& resumed, Make&& make) {
  ServerClock unmeasured;
  SessionPtr session;
  {
    auto first = make(server, unmeasured, nullptr);
    first.handshake();
    session = first.client_session();
    first.release_server();
  }
  std::vector<double> reps;
  for (int r = 0; r < o.reps; ++r) {
    ServerClock clock;
    for (int i = 0; i < o.handshakes; ++i) {
      auto link = make(server, clock, session.get());
      link.handshake();
      if (!link.reused()) die("a resumption was refused: full handshake");
      if (link.group() != NID_X25519) die("a resumption without (EC)DHE");
      ++resumed;
      session = link.client_session();  // the next offers the newest ticket
      SslPtr done = link.release_server();
      clock.add([&] { return (done.reset(), 0); });  // a server frees its SSL too
    }
    reps.push_back(clock.us / o.handshakes);
  }
  return median(reps);
}

struct Traffic {
  double pair_us = 0;
  double record_us = 0;
  double file_record_us = 0;  // over TCP only: the plaintext read from a file first
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

// The socket floor (--sockets): the same SSL calls, the ciphertext carried over loopback
// TCP. What it adds to the memory floor is what carrying TLS over a socket costs on this
// machine at the least: the server's accept4, one read() per flight or request that arrived,
// one write() per flight or response, and close; on loopback the kernel's delivery to the
// peer's socket is billed to the writer, as it is to a real server. No epoll, no copies: the
// socket reads into and writes from the SSL's BIO pair buffer (BIO_nwrite0 / BIO_nread0).

long socket_waits = 0;  // reads that found nothing yet and had to poll (expected: 0)

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

struct Listener {
  Fd fd;
  sockaddr_in address{};
};

void no_delay(int fd) {
  const int on = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0) die("TCP_NODELAY");
}

// On 127.0.0.1, an ephemeral port; accepted sockets inherit its TCP_NODELAY (as in hello).
void open_listener(Listener& l) {
  l.fd.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  l.address.sin_family = AF_INET;
  l.address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof l.address;
  if (l.fd.get() < 0 ||
      bind(l.fd.get(), reinterpret_cast<const sockaddr*>(&l.address), sizeof l.address) != 0 ||
      listen(l.fd.get(), 1024) != 0 ||
      getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&l.address), &size) != 0)
    die("listen on 127.0.0.1");
  no_delay(l.fd.get());
}

void wait_readable(int fd) {
  ++socket_waits;
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) die("nothing arrived on a loopback socket within 5 s");
}

// Gives `ssl` one end of a BIO pair with `ring` bytes each way; returns the other end.
BioPtr attach_pair(SSL* ssl, std::size_t ring) {
  BIO* inner = nullptr;
  BIO* outer = nullptr;
  if (BIO_new_bio_pair(&inner, ring, &outer, ring) != 1) die("BIO_new_bio_pair");
  SSL_set_bio(ssl, inner, inner);
  return BioPtr(outer);
}

// One read() straight into the pair's free space; the bytes read (0: none there yet).
std::size_t receive(int fd, BIO* net) {
  char* space = nullptr;
  const int room = BIO_nwrite0(net, &space);
  if (room <= 0) die("a BIO pair is full");
  const ssize_t n = ::read(fd, space, static_cast<std::size_t>(room));
  if (n < 0 && errno == EAGAIN) return 0;
  if (n <= 0) die("read from a loopback socket");
  BIO_nwrite(net, &space, static_cast<int>(n));
  return static_cast<std::size_t>(n);
}

// Writes what the pair holds, one write() per contiguous run (one in all: a pair drained to
// empty starts again at its beginning); false when the socket took less.
bool send(int fd, BIO* net) {
  for (;;) {
    char* data = nullptr;
    const int pending = BIO_nread0(net, &data);
    if (pending <= 0) return true;
    const ssize_t n = ::write(fd, data, static_cast<std::size_t>(pending));
    if (n < 0 && errno == EAGAIN) return false;
    if (n < 0) die("write to a loopback socket");
    BIO_nread(net, &data, static_cast<int>(n));
    if (n < pending) return false;
  }
}

// The pair over a loopback TCP connection, the server's side of it on the clock.
class SocketLink final : public Pair {
 public:
  SocketLink(SSL_CTX* server_ctx, SSL_CTX* client_ctx, ServerClock& clock, const Listener& listener,
             SSL_SESSION* session, std::size_t ring)
      : Pair(clock, client_ctx) {
    client_fd_.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (client_fd_.get() < 0) die("socket");
    no_delay(client_fd_.get());
    if (connect(client_fd_.get(), reinterpret_cast<const sockaddr*>(&listener.address),
                sizeof listener.address) != 0 &&
        errno != EINPROGRESS)
      die("connect to the listener");
    for (;;) {
      server_fd_.reset(clock_.add([&] {
        return accept4(listener.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      }));
      if (server_fd_.get() >= 0) break;
      if (errno != EAGAIN) die("accept4");
      wait_readable(listener.fd.get());
    }
    new_server(server_ctx);
    server_net_ = attach_pair(server_.get(), ring);
    client_net_ = attach_pair(client_.get(), ring);
    start(session);
  }
  ~SocketLink() {
    client_net_.reset();
    client_.reset();
    client_fd_.reset();  // the client goes first; the server then closes its side
    clock_.add([&] {
      server_net_.reset();
      server_.reset();
      server_fd_.reset();
      return 0;
    });
  }
  SocketLink(const SocketLink&) = delete;
  SocketLink& operator=(const SocketLink&) = delete;

  // One small exchange in three steps, so that many connections can have theirs in flight at
  // once: the client's request on the wire; the server's read, answer and write (inside the
  // caller's clock); the client's reading of the response.
  void send_request() {
    client_request();
    client_send();
  }
  void serve() {
    while (receive(server_fd_.get(), server_net_.get()) == 0) wait_readable(server_fd_.get());
    server_answer();
    server_sends();
  }
  void read_response() {
    to_client();
    client_response();
  }

  // `count` full records written by the server and sent; the client drops them unread.
  void write_records(int count, PlainFile* source = nullptr) {
    server_records(count, source);
    while (!clock_.add([&] { return send(server_fd_.get(), server_net_.get()); })) drop_at_client();
    // Read at once, as a client that keeps up does: the next batch finds the window open and
    // goes out inside the server's write(). (What waits for a window update is sent from the
    // reader's ACK processing, billed to the reader.)
    drop_at_client();
  }

 private:
  void to_server() override {
    client_send();
    while (clock_.add([&] { return receive(server_fd_.get(), server_net_.get()); }) == 0)
      wait_readable(server_fd_.get());
  }
  void to_client() override {
    while (receive(client_fd_.get(), client_net_.get()) > 0) {
    }
  }
  void server_sends() override {
    if (!send(server_fd_.get(), server_net_.get())) die("a flight or response did not fit");
  }
  void client_send() {
    if (!send(client_fd_.get(), client_net_.get())) die("the client's bytes did not fit");
  }
  void drop_at_client() {
    std::array<char, 65536> sink;
    while (::read(client_fd_.get(), sink.data(), sink.size()) > 0) {
    }
  }

  Fd server_fd_;
  Fd client_fd_;
  BioPtr server_net_;
  BioPtr client_net_;
};

// Small pairs over `links` connections at once, one request in flight on each (as wrk's
// keep-alive connections): one read() and one write() per pair.
constexpr int socket_pair_links = 32;
constexpr std::size_t handshake_ring = 16 * 1024;
constexpr std::size_t bulk_ring = 512 * 1024;

Traffic socket_traffic(const Contexts& c, const Options& o, const Listener& listener) {
  ServerClock clock;
  std::vector<std::unique_ptr<SocketLink>> links;
  for (int i = 0; i < socket_pair_links; ++i) {
    links.push_back(std::make_unique<SocketLink>(c.ecdsa.get(), c.client.get(), clock, listener,
                                                 nullptr, handshake_ring));
    links.back()->handshake();
  }
  if (std::strcmp(links[0]->cipher(), "TLS_AES_256_GCM_SHA384") != 0)
    die(std::string("unexpected cipher: ") + links[0]->cipher());
  const auto round = [&] {
    for (auto& link : links) link->send_request();
    clock.add([&] {
      for (auto& link : links) link->serve();
      return 0;
    });
    for (auto& link : links) link->read_response();
  };
  const int rounds = (o.records + socket_pair_links - 1) / socket_pair_links;
  round();  // warm
  std::vector<double> pairs, records;
  for (int r = 0; r < o.reps; ++r) {
    clock.us = 0;
    for (int i = 0; i < rounds; ++i) round();
    pairs.push_back(clock.us / (rounds * socket_pair_links));
  }
  links.clear();
  SocketLink bulk(c.ecdsa.get(), c.client.get(), clock, listener, nullptr, bulk_ring);
  bulk.handshake();
  const int batches = (o.records + record_batch - 1) / record_batch;
  bulk.write_records(record_batch);  // warm
  // A file larger than the last-level cache (32 MiB here), so that its bytes come from memory
  // as a large download's do.
  PlainFile file(64 << 20);
  std::vector<double> file_records;
  for (int r = 0; r < o.reps; ++r) {
    clock.us = 0;
    for (int i = 0; i < batches; ++i) bulk.write_records(record_batch);
    records.push_back(clock.us / (batches * record_batch));
    clock.us = 0;
    for (int i = 0; i < batches; ++i) bulk.write_records(record_batch, &file);
    file_records.push_back(clock.us / (batches * record_batch));
  }
  return {median(pairs), median(records), median(file_records)};
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
  const auto memory = [&](SSL_CTX* server, ServerClock& clock, SSL_SESSION* session) {
    return Link(server, c.client.get(), clock, session);
  };
  double ecdsa = 0;
  double rsa = 0;
  double resumption = 0;
  phase("full_handshake", handshakes,
        [&] { ecdsa = full_handshakes(c.ecdsa.get(), o, full, memory); });
  phase("full_handshake_rsa", handshakes,
        [&] { rsa = full_handshakes(c.rsa.get(), o, full, memory); });
  phase("resumed_handshake", handshakes,
        [&] { resumption = resumed_handshakes(c.ecdsa.get(), o, resumed, memory); });
  const Traffic t = traffic(c, o);
  const Idle idle = idle_memory(c, o);
  const double mbps = static_cast<double>(record_size) / t.record_us;  // bytes per µs = MB/s

  struct Figure {
    const char* key;
    const char* name;
    double value;
    const char* unit;
  };
  const std::string rsa_name = "full handshake RSA-" + std::to_string(o.rsa_bits);
  std::vector<Figure> figures{
      {"full_ecdsa_us", "full handshake ECDSA P-256", ecdsa, "µs server CPU"},
      {"full_rsa_us", rsa_name.c_str(), rsa, "µs server CPU"},
      {"resumed_us", "resumed handshake (ticket)", resumption, "µs server CPU"},
      {"small_pair_us", "small request/response pair", t.pair_us, "µs server CPU"},
      {"record16k_us", "16 KiB record write", t.record_us, "µs server CPU"},
      {"record16k_mbps", "16 KiB record write", mbps, "MB/s per server CPU second"},
      {"idle_kib_bios_kept", "idle server SSL, BIOs kept", idle.kept.rss_kib, "KiB RSS"},
      {"idle_kib_bios_released", "idle server SSL, BIOs released", idle.released.rss_kib,
       "KiB RSS"},
      {nullptr, "idle server SSL, BIOs kept", idle.kept.heap_kib, "KiB heap in use (mallinfo2)"},
      {nullptr, "idle server SSL, BIOs released", idle.released.heap_kib,
       "KiB heap in use (mallinfo2)"},
  };
  if (o.sockets) {
    Listener listener;
    open_listener(listener);
    const auto socket = [&](SSL_CTX* server, ServerClock& clock, SSL_SESSION* session) {
      return SocketLink(server, c.client.get(), clock, listener, session, handshake_ring);
    };
    const double s_ecdsa = full_handshakes(c.ecdsa.get(), o, full, socket);
    const double s_rsa = full_handshakes(c.rsa.get(), o, full, socket);
    const double s_resumed = resumed_handshakes(c.ecdsa.get(), o, resumed, socket);
    const Traffic st = socket_traffic(c, o, listener);
    const std::vector<Figure> more{
        {"socket_full_ecdsa_us", "over TCP: full handshake ECDSA", s_ecdsa, "µs server CPU"},
        {"socket_full_rsa_us", "over TCP: full handshake RSA", s_rsa, "µs server CPU"},
        {"socket_resumed_us", "over TCP: resumed handshake", s_resumed, "µs server CPU"},
        {"socket_small_pair_us", "over TCP: small pair", st.pair_us, "µs server CPU"},
        {"socket_record16k_us", "over TCP: 16 KiB record", st.record_us, "µs server CPU"},
        {"socket_record16k_mbps", "over TCP: 16 KiB record",
         static_cast<double>(record_size) / st.record_us, "MB/s per server CPU second"},
        {"socket_file16k_us", "over TCP: 16 KiB read from a file", st.file_record_us,
         "µs server CPU"},
        {"socket_file16k_mbps", "over TCP: 16 KiB read from a file",
         static_cast<double>(record_size) / st.file_record_us, "MB/s per server CPU second"},
    };
    figures.insert(figures.end(), more.begin(), more.end());
  }

  if (o.json) {
    const char* separator = "{";
    for (const Figure& f : figures) {
      if (f.key == nullptr) continue;
      std::printf("%s\"%s\": %.3f", separator, f.key, f.value);
      separator = ", ";
    }
    std::printf("}\n");
    return 0;
  }
  std::printf(
      "OpenSSL %s floor, server side (TLS 1.3, x25519, TLS_AES_256_GCM_SHA384), median of "
      "%d reps; %ld full and %ld resumed handshakes checked\n",
      OpenSSL_version(OPENSSL_VERSION_STRING), o.reps, full, resumed);
  for (const Figure& f : figures) std::printf("%-32s %10.2f  %s\n", f.name, f.value, f.unit);
  if (o.sockets) std::printf("reads that had to wait for their bytes: %ld\n", socket_waits);
  return 0;
}
