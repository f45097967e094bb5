// The asynchronous hooks, two engines back to back in memory: WANT_CLIENT_HELLO_CB,
// WANT_X509_LOOKUP (server and client) and WANT_RETRY_VERIFY produced for real by OpenSSL's
// callbacks asking to be called again, answered from another thread, and what each answer does.
#include <doctest/doctest.h>

#include <openssl/rand.h>

#include <atomic>
#include <optional>
#include <random>
#include <thread>

#include "tests/support/TestPki.hpp"
#include "tests/unit/tls/EnginePair.hpp"
#include "tls/CertificateDirectory.hpp"
#include "tls/HookState.hpp"

using namespace test_support;
using tls::Want;
using Op = tls::Engine::Op;

namespace {

// What a hook was asked, and the handle to answer it with, kept for the test to use later.
template <typename Request, typename Handle>
struct Asked {
  std::optional<Request> request;
  std::optional<Handle> handle;
  int calls = 0;
  auto hook() {
    return [this](const Request& r, Handle h) {
      ++calls;
      request = r;
      handle = std::move(h);
    };
  }
};

using AskedHello = Asked<tls::ClientHello, tls::HelloDecision>;
using AskedCertificate = Asked<tls::CertificateRequest, tls::CertificateChoice>;
using AskedVerify = Asked<tls::VerifyRequest, tls::VerifyDecision>;

// The engine's waker, as a flag: a transport would hop to its loop and resume.
struct Woken {
  std::atomic<int> count{0};
  void attach(tls::Engine& engine) {
    engine.set_waker([this] { ++count; });
  }
};

// Answers from another thread, as an application's worker would.
template <typename F>
void from_another_thread(F&& answer) {
  std::thread(std::forward<F>(answer)).join();
}

std::shared_ptr<const tls::Certificate> load(const tls::dev::Files& files) {
  return test_support::must(tls::Certificate::load(files.leaf));
}

int peer_key_type(const tls::Engine& engine) {
  X509* peer = SSL_get0_peer_certificate(engine.native());
  return peer != nullptr ? EVP_PKEY_get_base_id(X509_get0_pubkey(peer)) : 0;
}

// A pair serving and trusting pki.ecdsa, with the hooks `configure` sets, pumped until one side
// parked on `want` (a waker counting wake-ups attached first).
struct Parked {
  using Configure = std::function<void(tls::ServerConfig&, tls::ClientConfig&, const TestPki&)>;
  TestPki pki;
  Woken woken;
  std::unique_ptr<EnginePair> p;

  Parked(const Configure& configure, bool client_parks, Want want) {
    auto sc = serving(pki.ecdsa);
    auto cc = trusting(pki.ecdsa.ca_file);
    configure(sc, cc, pki);
    p = std::make_unique<EnginePair>(client_context(cc), server_context(sc));
    tls::Engine& parking = client_parks ? p->client : p->server;
    woken.attach(parking);
    p->pump();
    REQUIRE((client_parks ? p->client_want : p->server_want) == want);
  }
};

}  // namespace

// ---- WANT_CLIENT_HELLO_CB -----------------------------------------------------------------

TEST_CASE(
    "a hello decision that comes later parks the server on WANT_CLIENT_HELLO_CB, then use() switches the certificate") {
  TestPki pki;
  AskedHello asked;
  auto sc = serving(pki.ecdsa);
  sc.on_client_hello = asked.hook();
  auto other = server_context(serving(pki.other));
  auto cc = trusting(pki.all_server_cas);
  cc.alpn = {"h2", "http/1.1"};
  EnginePair p(client_context(cc), server_context(sc), {"Other.Test", 443, 0});
  Woken woken;
  woken.attach(p.server);
  p.pump();
  REQUIRE(p.server_want == Want::client_hello);
  CHECK(p.server.parked() == Want::client_hello);
  CHECK(p.server.result_count(Op::handshake, SSL_ERROR_WANT_CLIENT_HELLO_CB) == 1);
  REQUIRE(asked.request);
  const tls::ClientHello& hello = *asked.request;
  CHECK(hello.server_name == "other.test");  // lower-cased
  CHECK(hello.alpn == std::vector<std::string>{"h2", "http/1.1"});
  CHECK(hello.versions == std::vector<int>{TLS1_3_VERSION, TLS1_2_VERSION});
  CHECK_FALSE(hello.has_certificate);  // the listening Context serves localhost only
  for (const int type :
       {TLSEXT_TYPE_server_name, TLSEXT_TYPE_application_layer_protocol_negotiation,
        TLSEXT_TYPE_supported_versions, TLSEXT_TYPE_key_share})
    CHECK(std::find(hello.extensions.begin(), hello.extensions.end(), type) !=
          hello.extensions.end());

  // Parked: more pumping issues no SSL call and asks nothing again.
  p.pump();
  CHECK(p.server.result_count(Op::handshake, SSL_ERROR_WANT_CLIENT_HELLO_CB) == 1);
  CHECK(asked.calls == 1);
  CHECK(woken.count == 0);

  from_another_thread([&] { asked.handle->use(other); });
  CHECK(woken.count == 1);
  from_another_thread(
      [&] { asked.handle->reject(SSL_AD_HANDSHAKE_FAILURE); });  // one-shot: ignored
  CHECK(woken.count == 1);
  p.server.resume();
  REQUIRE(p.handshake());
  CHECK(p.client.info().peer_subject.ends_with("/CN=other.test"));
  CHECK(p.server.info().server_name == "Other.Test");  // OpenSSL's, as sent
  CHECK(asked.calls == 1);
  p.client.write(bytes("over the switched context"));
  p.pump();
  CHECK(p.server_in.data == "over the switched context");
}

TEST_CASE("a hello decision given inside the hook does not park: proceed keeps the SNI choice") {
  TestPki pki;
  auto sc = serving(pki.ecdsa);
  sc.certificates.push_back(pki.other.leaf);
  bool has_certificate = false;
  sc.on_client_hello = [&](const tls::ClientHello& h, tls::HelloDecision d) {
    has_certificate = h.has_certificate;
    d.proceed();
  };
  EnginePair p(client_context(trusting(pki.all_server_cas)), server_context(sc),
               {"other.test", 443, 0});
  REQUIRE(p.handshake());
  CHECK(has_certificate);
  CHECK(p.server.result_count(SSL_ERROR_WANT_CLIENT_HELLO_CB) == 0);
  CHECK(p.client.info().peer_subject.ends_with("/CN=other.test"));
}

TEST_CASE("a rejected ClientHello fails with the alert chosen: unrecognized_name on both sides") {
  TestPki pki;
  AskedHello asked;
  auto sc = serving(pki.ecdsa);
  sc.on_client_hello = asked.hook();
  EnginePair p(client_context(trusting(pki.all_server_cas)), server_context(sc),
               {"nobody.test", 443, 0});
  Woken woken;
  woken.attach(p.server);
  p.pump();
  REQUIRE(p.server_want == Want::client_hello);
  from_another_thread([&] { asked.handle->reject(SSL_AD_UNRECOGNIZED_NAME); });
  p.server.resume();
  p.pump();
  CHECK(p.server.error().code == tls::Errc::unrecognized_name);
  CHECK(p.server.error().message() ==
        "handshake: no certificate for the requested server name: nobody.test");
  CHECK(p.client.error().code == tls::Errc::handshake_failed);
  CHECK(p.client.error().message() == "handshake: handshake failed: tlsv1 unrecognized name");
  CHECK_FALSE(p.client.is_handshake_done());
}

TEST_CASE(
    "a hello decision dropped unanswered, or a hook that throws, fails the handshake at once") {
  TestPki pki;
  SUBCASE("dropped") {
    auto sc = serving(pki.ecdsa);
    sc.on_client_hello = [](const tls::ClientHello&, tls::HelloDecision) {};
    EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(sc));
    p.pump();
    CHECK(
        p.server.error().message() ==
        "handshake: handshake failed: the application dropped its hello decision without answering");
    CHECK(p.client.error().detail == "tlsv1 alert internal error");
  }
  SUBCASE("throws") {
    auto sc = serving(pki.ecdsa);
    sc.on_client_hello = [](const tls::ClientHello&, tls::HelloDecision) {
      throw std::runtime_error("no tenants");
    };
    EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(sc));
    p.pump();
    CHECK(p.server.error().message() ==
          "handshake: handshake failed: on_client_hello threw: no tenants");
    CHECK(p.client.is_closed());
  }
}

TEST_CASE(
    "a hello decision works inside an OpenSSL async job, on a server that signs on the worker pool") {
  TestPki pki;
  AskedHello asked;
  auto sc = serving(pki.ecdsa);
  sc.offload_private_key = true;  // the hello callback runs inside an OpenSSL async job
  sc.on_client_hello = asked.hook();
  EnginePair p(client_context(trusting(pki.ecdsa.ca_file)), server_context(sc));
  Woken woken;
  woken.attach(p.server);
  p.pump();
  REQUIRE(p.server_want == Want::client_hello);
  from_another_thread([&] { asked.handle->proceed(); });
  p.server.resume();
  for (int i = 0; i < 100 && !p.server.is_handshake_done() && !p.server.is_closed(); ++i) {
    p.pump();
    if (p.server_want == Want::async) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      p.server.resume();  // a stale wake-up only pauses the job again
    }
  }
  CHECK(p.server.is_handshake_done());
  CHECK(p.client.is_handshake_done());
  CHECK(p.server.result_count(Op::handshake, SSL_ERROR_WANT_CLIENT_HELLO_CB) == 1);
}

// ---- WANT_X509_LOOKUP ---------------------------------------------------------------------

TEST_CASE("a server certificate chosen later parks on WANT_X509_LOOKUP and is the one presented") {
  TestPki pki;
  for (const bool choose_rsa : {true, false}) {
    CAPTURE(choose_rsa);
    AskedCertificate asked;
    auto sc = serving(pki.ecdsa);
    sc.on_certificate = asked.hook();
    EnginePair p(client_context(trusting(pki.all_server_cas)), server_context(sc));
    Woken woken;
    woken.attach(p.server);
    p.pump();
    REQUIRE(p.server_want == Want::x509_lookup);
    CHECK(p.server.result_count(Op::handshake, SSL_ERROR_WANT_X509_LOOKUP) == 1);
    CHECK(asked.request->server_name == "localhost");
    const auto rsa = load(pki.rsa);
    from_another_thread([&] {
      if (choose_rsa)
        asked.handle->use(rsa);
      else
        asked.handle->decline();  // the configured certificate
    });
    CHECK(woken.count == 1);
    p.server.resume();
    REQUIRE(p.handshake());
    CHECK(peer_key_type(p.client) == (choose_rsa ? EVP_PKEY_RSA : EVP_PKEY_EC));
  }
}

namespace {

// Mutual TLS required by the server, the client's certificate left to its hook.
Parked::Configure requiring_a_client_certificate(AskedCertificate& asked) {
  return [&asked](tls::ServerConfig& sc, tls::ClientConfig& cc, const TestPki& pki) {
    sc.client_auth = tls::ClientAuth::require;
    sc.client_ca_file = pki.client.ca_file;
    cc.on_client_certificate = asked.hook();
  };
}

}  // namespace

TEST_CASE(
    "a client certificate chosen later parks the client on WANT_X509_LOOKUP and mutual TLS succeeds") {
  AskedCertificate asked;
  Parked parked(requiring_a_client_certificate(asked), true, Want::x509_lookup);
  EnginePair& p = *parked.p;
  CHECK(p.client.result_count(Op::handshake, SSL_ERROR_WANT_X509_LOOKUP) == 1);
  REQUIRE(asked.request);
  CHECK(asked.request->server_name == "localhost");
  REQUIRE(asked.request->ca_names.size() == 1);  // the server's client CA, from its request
  tls::BioPtr bio(BIO_new_file(parked.pki.client.ca_file.c_str(), "r"));
  const tls::X509Ptr client_ca(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  std::array<char, 256> ca_subject{};
  X509_NAME_oneline(X509_get_subject_name(client_ca.get()), ca_subject.data(),
                    static_cast<int>(ca_subject.size()));
  CHECK(asked.request->ca_names.front() == ca_subject.data());
  const auto mine = load(parked.pki.client);
  from_another_thread([&] { asked.handle->use(mine); });
  CHECK(parked.woken.count == 1);
  p.client.resume();
  REQUIRE(p.handshake());
  CHECK(p.server.info().peer_subject.ends_with("/CN=client.test"));
}

TEST_CASE("a client that declines to send a certificate is refused by a server that requires one") {
  AskedCertificate asked;
  Parked parked(requiring_a_client_certificate(asked), true, Want::x509_lookup);
  EnginePair& p = *parked.p;
  from_another_thread([&] { asked.handle->decline(); });
  p.client.resume();
  p.pump();
  CHECK(p.server.error().code == tls::Errc::handshake_failed);
  CHECK(p.server.error().detail == "peer did not return a certificate");
  CHECK(p.client.is_closed());
}

// ---- WANT_RETRY_VERIFY --------------------------------------------------------------------

namespace {

std::vector<unsigned char> spki_sha256_of(const std::string& cert_file) {
  tls::BioPtr bio(BIO_new_file(cert_file.c_str(), "r"));
  const tls::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  unsigned char* der = nullptr;
  const int length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
  std::vector<unsigned char> md(32);
  unsigned int size = 0;
  EVP_Digest(der, static_cast<std::size_t>(length), md.data(), &size, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  return md;
}

}  // namespace

TEST_CASE(
    "an asynchronous verify policy parks the client on WANT_RETRY_VERIFY, and accept completes the handshake") {
  AskedVerify asked;
  Parked v([&](tls::ServerConfig&, tls::ClientConfig& cc,
               const TestPki&) { cc.on_verify = asked.hook(); },
           true, Want::retry_verify);
  EnginePair& p = *v.p;
  CHECK(p.client.parked() == Want::retry_verify);
  CHECK(p.client.result_count(Op::handshake, SSL_ERROR_WANT_RETRY_VERIFY) == 1);
  REQUIRE(asked.request);
  const tls::VerifyRequest& request = *asked.request;
  CHECK(request.host == "localhost");
  CHECK(request.subject.ends_with("/CN=localhost"));
  CHECK(request.chain.size() == 2);  // the leaf and the CA that verified it
  CHECK(request.openssl_result == X509_V_OK);
  CHECK(request.spki_sha256 == spki_sha256_of(v.pki.ecdsa.leaf.cert_file));
  p.pump();
  CHECK(p.client.result_count(Op::handshake, SSL_ERROR_WANT_RETRY_VERIFY) == 1);  // parked: no call
  from_another_thread([&] { asked.handle->accept(); });
  CHECK(v.woken.count == 1);
  p.client.resume();
  REQUIRE(p.handshake());
  CHECK(asked.calls == 1);
  CHECK(SSL_get_verify_result(p.client.native()) == X509_V_OK);
}

TEST_CASE(
    "a verify policy that rejects fails the handshake with bad_certificate and 'certificate rejected by the application'") {
  AskedVerify asked;
  Parked v([&](tls::ServerConfig&, tls::ClientConfig& cc,
               const TestPki&) { cc.on_verify = asked.hook(); },
           true, Want::retry_verify);
  EnginePair& p = *v.p;
  from_another_thread([&] { asked.handle->reject("pin mismatch"); });
  CHECK(v.woken.count == 1);
  p.client.resume();
  p.pump();
  CHECK(p.client.error().code == tls::Errc::verify_failed);
  CHECK(
      p.client.error().message() ==
      "handshake: certificate verify failed: certificate rejected by the application: pin mismatch");
  CHECK(p.client.error().verify_result == X509_V_ERR_CERT_REJECTED);
  CHECK(p.server.error().detail == "sslv3 alert bad certificate");  // the alert reached the server
  CHECK_FALSE(p.server.is_handshake_done());
}

TEST_CASE("the verify policy is not asked when OpenSSL's own verification already failed") {
  TestPki pki;
  AskedVerify asked;
  auto cc = trusting(pki.client.ca_file);  // a CA that signed nothing the server has
  cc.on_verify = asked.hook();
  EnginePair p(client_context(cc), server_context(serving(pki.ecdsa)));
  p.pump();
  CHECK(asked.calls == 0);
  CHECK(p.client.error().message() ==
        "handshake: certificate verify failed: self-signed certificate in certificate chain");
}

TEST_CASE(
    "with verification off the verify policy decides alone: a pinned key passes, another is rejected") {
  TestPki pki;
  const auto pin = spki_sha256_of(pki.ecdsa.leaf.cert_file);
  for (const auto* files : {&pki.ecdsa, &pki.rsa}) {
    const bool pinned = files == &pki.ecdsa;
    CAPTURE(pinned);
    tls::ClientConfig cc;
    cc.verify = false;  // nothing trusted: the pin is the whole policy
    AskedVerify asked;
    cc.on_verify = asked.hook();
    EnginePair p(client_context(cc), server_context(serving(*files)));
    Woken woken;
    woken.attach(p.client);
    p.pump();
    REQUIRE(p.client_want == Want::retry_verify);
    const tls::VerifyRequest& request = *asked.request;
    // A policy service answers from its own thread.
    from_another_thread([&] {
      if (request.spki_sha256 == pin)
        asked.handle->accept();
      else
        asked.handle->reject("key not pinned");
    });
    REQUIRE(woken.count == 1);
    p.client.resume();
    p.pump();
    CHECK(request.openssl_result != X509_V_OK);  // OpenSSL alone would not trust it
    CHECK(p.client.is_handshake_done() == pinned);
    if (pinned)
      CHECK(SSL_get_verify_result(p.client.native()) == X509_V_OK);
    else
      CHECK(
          p.client.error().message() ==
          "handshake: certificate verify failed: certificate rejected by the application: key not pinned");
  }
}

// ---- the ClientHello parsers --------------------------------------------------------------

namespace {

std::vector<unsigned char> wire(std::initializer_list<int> bytes) {
  std::vector<unsigned char> out;
  for (int b : bytes) out.push_back(static_cast<unsigned char>(b));
  return out;
}

}  // namespace

TEST_CASE(
    "ClientHello extension parsers read well-formed bytes and refuse every malformed length") {
  std::string name;
  CHECK(tls::hello::server_name(wire({0, 6, 0, 0, 3, 'A', 'b', 'c'}), name));
  CHECK(name == "abc");
  std::string untouched = "kept";
  CHECK_FALSE(
      tls::hello::server_name(wire({0, 7, 0, 0, 3, 'a', 'b', 'c'}), untouched));  // list too long
  CHECK_FALSE(
      tls::hello::server_name(wire({0, 6, 0, 0, 4, 'a', 'b', 'c'}), untouched));  // name too long
  CHECK_FALSE(tls::hello::server_name(wire({0, 3, 0, 0, 0}), untouched));         // empty name
  CHECK_FALSE(
      tls::hello::server_name(wire({0, 6, 0, 0, 3, 'a', 0, 'c'}), untouched));  // NUL inside
  CHECK_FALSE(tls::hello::server_name(wire({0, 8, 0, 0, 1, 'a', 0, 0, 1, 'b'}),
                                      untouched));  // two host names
  CHECK_FALSE(tls::hello::server_name(wire({0}), untouched));
  CHECK_FALSE(tls::hello::server_name({}, untouched));
  CHECK(untouched == "kept");

  std::vector<std::string> protocols;
  CHECK(tls::hello::alpn(wire({0, 6, 2, 'h', '2', 2, 'h', '3'}), protocols));
  CHECK(protocols == std::vector<std::string>{"h2", "h3"});
  CHECK_FALSE(tls::hello::alpn(wire({0, 6, 2, 'h', '2', 3, 'h', '3'}), protocols));
  CHECK_FALSE(tls::hello::alpn(wire({0, 4, 2, 'h', '2', 0}), protocols));  // empty protocol
  CHECK_FALSE(tls::hello::alpn(wire({0, 0}), protocols));

  std::vector<int> versions;
  CHECK(tls::hello::versions(wire({6, 0x3a, 0x3a, 3, 4, 3, 3}), versions));  // GREASE left out
  CHECK(versions == std::vector<int>{TLS1_3_VERSION, TLS1_2_VERSION});
  CHECK_FALSE(tls::hello::versions(wire({3, 3, 4, 3}), versions));  // odd length
  CHECK_FALSE(tls::hello::versions(wire({4, 3, 4}), versions));

  // Random bytes, and random cuts of valid ones: never a read past the end (ASan would say).
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::vector<unsigned char> junk(rng() % 24);
    for (auto& b : junk)
      b = static_cast<unsigned char>(rng() % 8);  // small values: plausible lengths
    std::string s;
    std::vector<std::string> a;
    std::vector<int> v;
    (void)tls::hello::server_name(junk, s);
    (void)tls::hello::alpn(junk, a);
    (void)tls::hello::versions(junk, v);
  }
}

// ---- CertificateDirectory, in memory --------------------------------------------------------

TEST_CASE(
    "CertificateDirectory: a name with files is loaded on the worker pool and used, an unknown one refused") {
  TestPki pki;
  const std::string dir = pki.path("sites");
  const auto files = test_support::must(
      tls::dev::write(tls::dev::generate({"tenant.test"}), dir + "/tenant.test"));
  auto sc = serving(pki.ecdsa);
  auto directory = tls::CertificateDirectory::create(dir, sc);
  sc.on_client_hello = directory->hook();
  auto server_ctx = server_context(sc);
  for (const char* name : {"tenant.test", "TENANT.test", "missing.test", "localhost"}) {
    CAPTURE(name);
    auto cc = trusting(files.ca_file);
    if (std::string(name) == "localhost") cc.ca_file = pki.ecdsa.ca_file;
    EnginePair p(client_context(cc), server_ctx, {name, 443, 0});
    Woken woken;
    woken.attach(p.server);
    p.pump();
    if (p.server_want == Want::client_hello) {
      for (int i = 0; i < 1000 && woken.count == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      REQUIRE(woken.count == 1);
      p.server.resume();
      p.pump();
    }
    if (std::string(name) == "missing.test") {
      CHECK(p.server.error().code == tls::Errc::unrecognized_name);
      CHECK(p.client.error().detail == "tlsv1 unrecognized name");
    } else {
      CHECK(p.client.is_handshake_done());
      const std::string expected =
          std::string(name) == "localhost" ? "/CN=localhost" : "/CN=tenant.test";
      CHECK(p.client.info().peer_subject.ends_with(expected));
    }
  }
  CHECK(directory->loaded() == 1);
  CHECK(directory->loads() == 2);  // tenant.test once (then cached), missing.test once
}

TEST_CASE(
    "one hello decision and one certificate choice per connection, also after a HelloRetryRequest") {
  TestPki pki;
  AskedHello asked;
  AskedCertificate asked_certificate;
  auto sc = serving(pki.ecdsa);
  sc.groups = "X25519";
  sc.on_client_hello = asked.hook();
  sc.on_certificate = asked_certificate.hook();
  const auto rsa = load(pki.rsa);
  auto cc = trusting(pki.all_server_cas);
  cc.groups = "P-256:X25519";  // a key share for P-256 only: the server asks for X25519
  EnginePair p(client_context(cc), server_context(sc));
  Woken woken;
  woken.attach(p.server);
  for (int round = 0; round < 4 && !p.server.is_handshake_done() && !p.server.is_closed();
       ++round) {
    p.pump();
    if (p.server_want == Want::client_hello)
      asked.handle->proceed();
    else if (p.server_want == Want::x509_lookup)
      asked_certificate.handle->use(rsa);
    else
      break;
    p.server.resume();
  }
  p.pump();
  INFO(p.server.error().message(), " / ", p.client.error().message());
  REQUIRE(p.client.is_handshake_done());
  // OpenSSL calls both callbacks again for the second ClientHello; the first answers hold.
  CHECK(asked.calls == 1);
  CHECK(asked_certificate.calls == 1);
  CHECK(p.server.result_count(Op::handshake, SSL_ERROR_WANT_CLIENT_HELLO_CB) == 1);
  CHECK(p.server.result_count(Op::handshake, SSL_ERROR_WANT_X509_LOOKUP) == 1);
  CHECK(peer_key_type(p.client) == EVP_PKEY_RSA);
  CHECK(asked.request->versions == std::vector<int>{TLS1_3_VERSION, TLS1_2_VERSION});
}
