// Private-key operations through a Signer: the handshake parks on SSL_ERROR_WANT_ASYNC while
// the signature is made elsewhere, and on SSL_ERROR_WANT_ASYNC_JOB when the thread's async jobs
// are all taken. Both produced for real by OpenSSL's async machinery.
#include <doctest/doctest.h>

#include <openssl/err.h>
#include <poll.h>

#include <chrono>
#include <thread>

#include "tests/support/TestPki.hpp"
#include "tests/unit/tls/EnginePair.hpp"
#include "tls/Loader.hpp"
#include "tls/Signer.hpp"

using namespace test_support;
using tls::Want;
using Op = tls::Engine::Op;

namespace {

tls::ServerConfig offloading(const tls::dev::Files& files) {
  tls::ServerConfig c;
  c.certificates = {files.leaf};
  c.offload_private_key = true;
  return c;
}

// Waits (bounded) until one of the engine's async fds is readable.
bool wait_async(const tls::Engine& engine, int timeout_ms = 5000) {
  std::vector<pollfd> fds;
  for (int fd : engine.async_fds()) fds.push_back({fd, POLLIN, 0});
  return !fds.empty() && ::poll(fds.data(), fds.size(), timeout_ms) > 0;
}

// Pumps a pair whose server may park on a signer, the way a transport would: poll, resume.
void pump_with_signer(EnginePair& p) {
  for (int i = 0; i < 100; ++i) {
    p.pump();
    if (p.server_want != Want::async) return;
    REQUIRE(wait_async(p.server));
    p.server.resume();
  }
}

// A Signer that answers from its own thread after a delay: a remote signer, an HSM.
class SlowSigner final : public tls::Signer {
 public:
  SlowSigner(tls::EvpPkeyPtr key, std::chrono::milliseconds delay)
      : local_(std::move(key), std::make_shared<tls::WorkerPool>(1)), delay_(delay) {}
  void sign(tls::SignRequest request, std::function<void(tls::SignResult)> done) override {
    ++calls;
    std::thread([this, request = std::move(request), done = std::move(done)] {
      std::this_thread::sleep_for(delay_);
      done(local_.sign_now(request));
    }).detach();
  }
  std::atomic<int> calls{0};

 private:
  tls::PoolSigner local_;
  std::chrono::milliseconds delay_;
};

}  // namespace

TEST_CASE(
    "a signer that answers later parks the handshake on WANT_ASYNC (ECDSA and RSA, 1.2 and 1.3)") {
  TestPki pki;
  for (const auto* files : {&pki.ecdsa, &pki.rsa}) {
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
      CAPTURE(files == &pki.rsa);
      CAPTURE(version);
      tls::ServerConfig sc;
      sc.certificates = {{files->leaf.cert_file, "",
                          std::make_shared<SlowSigner>(load_key(files->leaf.key_file),
                                                       std::chrono::milliseconds(100))}};
      sc.max_version = version;
      EnginePair p(client_context(trusting(files->ca_file)), server_context(sc));
      p.pump();
      REQUIRE(p.server_want == Want::async);  // the signature is being made elsewhere
      CHECK(p.server.job_paused());
      CHECK(p.server.result_count(Op::handshake, SSL_ERROR_WANT_ASYNC) == 1);
      // No SSL call while parked, whatever arrives.
      p.pump();
      CHECK(p.server_want == Want::async);
      CHECK(p.server.result_count(Op::handshake, SSL_ERROR_WANT_ASYNC) == 1);
      pump_with_signer(p);
      REQUIRE(p.client.is_handshake_done());
      REQUIRE(p.server.is_handshake_done());
      CHECK_FALSE(p.client.error());  // the client verified the signature made off the thread
      CHECK((SSL_get_mode(p.server.native()) & SSL_MODE_ASYNC) == 0);  // async mode ends with it
      p.client.write(bytes("after"));
      p.pump();
      CHECK(p.server_in.data == "after");
    }
  }
}

TEST_CASE("offload_private_key signs on the worker pool: handshakes complete with ECDSA and RSA") {
  TestPki pki;
  for (const auto* files : {&pki.ecdsa, &pki.rsa}) {
    auto sc = offloading(*files);
    EnginePair p(client_context(trusting(files->ca_file)), server_context(sc));
    pump_with_signer(p);  // parks unless the pool answered before the job looked
    CHECK(p.server.is_handshake_done());
    CHECK(p.client.is_handshake_done());
    CHECK(p.server.result_count(SSL_ERROR_WANT_ASYNC) <= 1);
  }
}

TEST_CASE(
    "a custom Signer that answers later from its own thread is what the handshake waits for") {
  TestPki pki;
  auto signer = std::make_shared<SlowSigner>(load_key(pki.ecdsa.leaf.key_file),
                                             std::chrono::milliseconds(100));
  tls::ServerConfig sc;
  sc.certificates = {{pki.ecdsa.leaf.cert_file, "", signer}};  // keyless: no key file at all
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(sc));
  p.pump();
  CHECK(p.server_want == Want::async);
  CHECK_FALSE(wait_async(p.server, 10));  // not before the signer answers
  pump_with_signer(p);
  CHECK(p.server.is_handshake_done());
  CHECK(p.client.is_handshake_done());
  CHECK(signer->calls == 1);
}

TEST_CASE(
    "with one async job per thread a second handshake gets WANT_ASYNC_JOB until the first frees it") {
  TestPki pki;
  REQUIRE_FALSE(tls::limit_async_jobs(1));
  {
    auto signer = std::make_shared<SlowSigner>(load_key(pki.ecdsa.leaf.key_file),
                                               std::chrono::milliseconds(200));
    tls::ServerConfig sc;
    sc.certificates = {{pki.ecdsa.leaf.cert_file, "", signer}};
    auto server_ctx = server_context(sc);
    auto client_ctx = client_context(trusting(pki.ecdsa.ca_file));
    EnginePair first(client_ctx, server_ctx);
    EnginePair second(client_ctx, server_ctx);
    first.pump();
    REQUIRE(first.server_want == Want::async);  // holds the thread's only job
    second.pump();
    CHECK(second.server_want == Want::async_job);
    CHECK(second.server.result_count(Op::handshake, SSL_ERROR_WANT_ASYNC_JOB) == 1);
    pump_with_signer(first);
    REQUIRE(first.server.is_handshake_done());  // its job went back to the pool
    second.server.resume();
    pump_with_signer(second);
    CHECK(second.server.is_handshake_done());
    CHECK(second.client.is_handshake_done());
    CHECK(second.server.result_count(Op::handshake, SSL_ERROR_WANT_ASYNC_JOB) == 1);
  }
  REQUIRE_FALSE(tls::limit_async_jobs(0));
}

TEST_CASE("a signer that fails fails the handshake cleanly") {
  TestPki pki;
  class Refusing final : public tls::Signer {
   public:
    void sign(tls::SignRequest, std::function<void(tls::SignResult)> done) override {
      done(std::nullopt);
    }
  };
  tls::ServerConfig sc;
  sc.certificates = {{pki.ecdsa.leaf.cert_file, "", std::make_shared<Refusing>()}};
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(sc));
  pump_with_signer(p);
  CHECK(p.server.error().code == tls::Errc::handshake_failed);
  CHECK(p.client.is_closed());
  CHECK_FALSE(p.client.is_handshake_done());
}
