// Asynchronous private-key operations over loopback: the server's handshake parks on
// SSL_ERROR_WANT_ASYNC while a Signer works, the loop keeps serving, a bounded pool of async
// jobs makes the surplus wait on SSL_ERROR_WANT_ASYNC_JOB, and connections that die while a
// signature is pending are torn down without touching freed memory or leaking descriptors.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <list>
#include <thread>
#include <vector>

#include "reactor/Timer.hpp"
#include "tests/support/Pair.hpp"
#include "tests/support/TestPki.hpp"
#include "tls/Loader.hpp"
#include "tls/Signer.hpp"

using namespace std::chrono_literals;
using test_support::Recorder;
using Op = tls::Engine::Op;

namespace {

// A signer that answers on the loop thread after a delay (a remote signer's round trip): each
// request waits on a reactor::Timer, then signs with the local key.
class TimerSigner final : public tls::Signer {
 public:
  TimerSigner(reactor::Loop& loop, tls::EvpPkeyPtr key, std::chrono::milliseconds delay)
      : loop_(loop), local_(std::move(key), std::make_shared<tls::WorkerPool>(1)), delay_(delay) {}

  void sign(tls::SignRequest request, std::function<void(tls::SignResult)> done) override {
    ++started;
    auto& timer = timers_.emplace_back(loop_);
    timer.start(delay_, 0ms, [this, request = std::move(request), done = std::move(done)] {
      ++finished;
      done(local_.sign_now(request));
    });
  }
  int started = 0;
  int finished = 0;

 private:
  reactor::Loop& loop_;
  tls::PoolSigner local_;
  std::chrono::milliseconds delay_;
  std::list<reactor::Timer> timers_;  // one per request, freed with the signer
};

// A signer that answers from a thread of its own after a delay: the answer comes even when the
// loop that asked has closed meanwhile.
class ThreadSigner final : public tls::Signer {
 public:
  ThreadSigner(tls::EvpPkeyPtr key, std::chrono::milliseconds delay)
      : local_(std::move(key), std::make_shared<tls::WorkerPool>(1)), delay_(delay) {}
  ~ThreadSigner() override {
    for (auto& t : threads_) t.join();
  }

  void sign(tls::SignRequest request, std::function<void(tls::SignResult)> done) override {
    ++started;
    threads_.emplace_back([this, request = std::move(request), done = std::move(done)] {
      std::this_thread::sleep_for(delay_);
      done(local_.sign_now(request));
    });
  }
  int started = 0;  // loop thread only

 private:
  tls::PoolSigner local_;
  std::chrono::milliseconds delay_;
  std::vector<std::thread> threads_;
};

// Descriptors open in this process (asking each one, so the count itself opens none).
std::size_t open_fds() {
  std::size_t count = 0;
  for (int fd = 0; fd < 4096; ++fd)
    if (::fcntl(fd, F_GETFD) != -1) ++count;
  return count;
}

struct Server {
  Server(reactor::Loop& loop, const tls::ServerConfig& config, reactor::HandlerFactory app,
         tls::TransportOptions options = {})
      : listener(loop, tls::server_factory(test_support::server_context(config), std::move(app),
                                           options)) {
    REQUIRE_FALSE(listener.listen(*reactor::Address::from_ip("127.0.0.1", 0)));
  }
  reactor::HostPort target() const { return {"localhost", listener.local_address().port()}; }
  reactor::TcpListener listener;
};

}  // namespace

TEST_CASE("an offloaded handshake over loopback parks on WANT_ASYNC and completes, echo flows") {
  test_support::TestPki pki;
  test_support::Pair p;
  tls::ServerConfig sc;
  auto signer =
      std::make_shared<TimerSigner>(p.loop, test_support::load_key(pki.rsa.leaf.key_file), 50ms);
  sc.certificates = {{pki.rsa.leaf.cert_file, "", signer}};
  p.server_tls = test_support::server_context(sc);
  tls::ClientConfig cc;
  cc.ca_file = pki.rsa.ca_file;
  p.client_tls = test_support::client_context(cc);
  std::uint64_t server_async = 0;
  p.script_server = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      server_async = dynamic_cast<tls::TlsTransport&>(c).engine().result_count(
          Op::handshake, SSL_ERROR_WANT_ASYNC);
    };
    h.data = [](reactor::Connection& c, std::span<const std::byte> d) { c.write(d); };
  };
  p.script_client = [](Recorder& h) {
    h.open = [](reactor::Connection& c) {
      c.write("signed elsewhere");
      c.shutdown();
    };
  };
  p.run();
  CHECK(server_async == 1);
  CHECK(signer->finished == 1);
  CHECK(p.client->data == "signed elsewhere");
  CHECK_MESSAGE(!p.client->error, p.client->error.message());
  CHECK(p.close() == 0);
}

TEST_CASE(
    "with two async jobs per loop 30 concurrent offloaded handshakes all complete, waiting without spinning") {
  test_support::TestPki pki;
  reactor::Loop loop;
  REQUIRE_FALSE(tls::limit_async_jobs(2));
  {
    test_support::Watchdog dog(loop, 30s);
    auto signer =
        std::make_shared<TimerSigner>(loop, test_support::load_key(pki.ecdsa.leaf.key_file), 20ms);
    tls::ServerConfig sc;
    sc.certificates = {{pki.ecdsa.leaf.cert_file, "", signer}};
    std::uint64_t job_waits = 0;
    std::uint64_t parks = 0;
    int served = 0;
    Server server(loop, sc, [&] {
      auto h = std::make_unique<Recorder>(std::make_shared<test_support::Record>());
      h->open = [&](reactor::Connection& c) {
        const auto& engine = dynamic_cast<tls::TlsTransport&>(c).engine();
        job_waits += engine.result_count(Op::handshake, SSL_ERROR_WANT_ASYNC_JOB);
        parks += engine.result_count(Op::handshake, SSL_ERROR_WANT_ASYNC);
        ++served;
        c.write("served");
      };
      h->closed = [](reactor::Connection&, const reactor::Error& e) {
        if (e) MESSAGE("server: " << e.message());
      };
      return h;
    });
    tls::ClientConfig cc;
    cc.ca_file = pki.ecdsa.ca_file;
    auto client_ctx = test_support::client_context(cc);
    constexpr int clients = 30;
    int done = 0;
    int ok = 0;
    for (int i = 0; i < clients; ++i) {
      auto h = std::make_unique<Recorder>(std::make_shared<test_support::Record>());
      // A TLS 1.3 client is done before the server is: wait for the server's word.
      h->data = [&](reactor::Connection& c, std::span<const std::byte>) {
        ++ok;
        c.close();
      };
      h->closed = [&](reactor::Connection&, const reactor::Error& e) {
        CHECK_MESSAGE(!e, e.message());
        if (++done == clients) loop.stop();
      };
      tls::connect(loop, server.target(), client_ctx, std::move(h));
    }
    loop.run();
    CHECK(ok == clients);
    CHECK(served == clients);
    CHECK(signer->finished == clients);
    // Handshakes found both jobs taken (how many depends on how fast the clients' hellos
    // arrive: nearly all of them here, fewer on a slow machine or under TSan, where a job may
    // be free again by the time the next hello is read), and each waited without retrying in
    // a loop: a wait costs one WANT_ASYNC_JOB, a wake-up one retry that gets the freed job.
    MESSAGE("WANT_ASYNC_JOB results: " << job_waits << " for " << clients << " handshakes");
    CHECK(job_waits >= 1);
    CHECK(job_waits <= 2 * clients);
    CHECK(parks == clients);
    dog.stop();
  }
  CHECK(loop.close() == 0);
  REQUIRE_FALSE(tls::limit_async_jobs(0));
}

TEST_CASE("1000 resets while the server's signature is pending leave no descriptor or job behind") {
  test_support::TestPki pki;
  // libuv opens a process-wide pipe with its first loop and keeps it: count after that.
  { reactor::Loop warm_up; }
  const std::size_t baseline = open_fds();
  reactor::Loop loop;
  {
    test_support::Watchdog dog(loop, 60s);
    auto signer =
        std::make_shared<TimerSigner>(loop, test_support::load_key(pki.ecdsa.leaf.key_file), 500ms);
    tls::ServerConfig sc;
    sc.certificates = {{pki.ecdsa.leaf.cert_file, "", signer}};
    int server_opens = 0;
    // Every handshake step at once (no admission control): the resets must find signatures
    // pending, not ClientHellos waiting for a later loop turn.
    tls::TransportOptions unlimited;
    unlimited.handshakes_per_turn = 0;
    Server server(
        loop, sc,
        [&] {
          auto h = std::make_unique<Recorder>(std::make_shared<test_support::Record>());
          h->open = [&](reactor::Connection&) { ++server_opens; };
          return h;
        },
        unlimited);
    const std::size_t serving =
        open_fds();  // the loop and the listener (and libuv's EMFILE reserve)
    tls::ClientConfig cc;
    cc.ca_file = pki.ecdsa.ca_file;
    auto client_ctx = test_support::client_context(cc);
    // Each client gives up long before the signature can come: its handshake timeout resets
    // the connection while the server's handshake is parked on the signer. The deadline is on
    // the loop's wheel, so it passes at the next tick (100 ms), before the signer's timer.
    tls::TransportOptions impatient = unlimited;
    impatient.handshake_timeout = 5ms;
    constexpr int total = 1000;
    constexpr int batch = 100;
    int started = 0;
    int ended = 0;
    std::function<void()> launch = [&] {
      for (int i = 0; i < batch && started < total; ++i, ++started) {
        auto h = std::make_unique<Recorder>(std::make_shared<test_support::Record>());
        h->closed = [&](reactor::Connection&, const reactor::Error& e) {
          CHECK(e.code() == tls::Errc::handshake_timeout);
          if (++ended == started) {
            if (started < total) launch();
          }
        };
        tls::connect(loop, server.target(), client_ctx, std::move(h), {}, impatient);
      }
    };
    launch();
    // Then wait until every pending signature has come back and been dropped.
    // ... and the reaper freed every SSL it kept (their eventfds closed): the descriptors are
    // those of a server with no connection.
    reactor::Timer check(loop);
    check.start(50ms, 50ms, [&] {
      if (ended == total && signer->finished == signer->started && loop.connection_count() == 0 &&
          open_fds() == serving)
        loop.stop();
    });
    loop.run();
    CHECK(ended == total);
    CHECK(server_opens == 0);
    // The path under test was taken: resets hit pending signatures (how many depends on
    // scheduling, so only that some did is asserted), and each of those was waited for.
    CHECK(signer->started > 0);
    CHECK(signer->finished == signer->started);
    dog.stop();
  }
  CHECK(loop.close() == 0);
  CHECK(open_fds() == baseline);
}

TEST_CASE(
    "a signature still out when its loop closes is waited for and its SSL freed with that loop, "
    "not at thread exit") {
  test_support::TestPki pki;
  { reactor::Loop warm_up; }  // libuv's process-wide pipe
  const std::size_t baseline = open_fds();
  auto signer =
      std::make_shared<ThreadSigner>(test_support::load_key(pki.ecdsa.leaf.key_file), 200ms);
  {
    reactor::Loop loop;
    {
      test_support::Watchdog dog(loop, 20s);
      tls::ServerConfig sc;
      sc.certificates = {{pki.ecdsa.leaf.cert_file, "", signer}};
      Server server(loop, sc, [] {
        return std::make_unique<Recorder>(std::make_shared<test_support::Record>());
      });
      tls::ClientConfig cc;
      cc.ca_file = pki.ecdsa.ca_file;
      tls::connect(loop, server.target(), test_support::client_context(cc),
                   std::make_unique<Recorder>(std::make_shared<test_support::Record>()));
      // Until the server's handshake is parked on the signature.
      reactor::Timer check(loop);
      check.start(1ms, 1ms, [&] {
        if (signer->started == 1) loop.stop();
      });
      loop.run();
      REQUIRE(signer->started == 1);
    }
    // Closing ends both connections; the server's SSL, its job still paused, goes to the
    // loop's reaper, which the loop's own teardown finishes (waiting for the signer's thread).
    CHECK(loop.close() == 0);
    CHECK(open_fds() == baseline);  // the job's descriptor closed with its SSL
  }
}
