// Asynchronous handshake decisions over loopback: our TLS client against our TLS server, with
// every hook answered later from a reactor::Timer (or a worker thread) while the loop goes on
// serving the other connections. The connection parks (WANT_CLIENT_HELLO_CB,
// WANT_X509_LOOKUP, WANT_RETRY_VERIFY) and the TlsTransport's waker resumes it on its loop.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <list>
#include <map>
#include <random>
#include <stdexcept>

#include <sys/stat.h>

#include "reactor/Loop.hpp"
#include "reactor/TcpConnector.hpp"
#include "reactor/TcpListener.hpp"
#include "reactor/Timer.hpp"
#include "tests/support/Recorder.hpp"
#include "tests/support/TestPki.hpp"
#include "tests/support/Watchdog.hpp"
#include "tls/CertificateDirectory.hpp"
#include "tls/TlsTransport.hpp"

using namespace std::chrono_literals;
using test_support::Record;
using test_support::Recorder;

namespace {

// One loop, one TLS listener on 127.0.0.1:0 and any number of TLS clients, each connecting to it
// with the server name it chooses (SNI and verification), without name resolution.
class Rig {
 public:
  reactor::Loop loop;
  std::optional<test_support::Watchdog> dog{std::in_place, loop, 20s};
  std::list<reactor::Timer> timers;  // answers held back; destroyed before the loop closes
  std::function<void(Recorder&)> server_script;  // applied to each server-side handler

  explicit Rig(std::shared_ptr<const tls::Context> server,
               tls::TransportOptions server_options = {}) {
    listener_.emplace(loop, tls::server_factory(
                                std::move(server),
                                [this] {
                                  auto handler = make(servers_);
                                  if (server_script) server_script(*handler);
                                  return handler;
                                },
                                server_options));
    REQUIRE_FALSE(listener_->listen(*reactor::Address::from_ip("127.0.0.1", 0)));
  }

  // A client for `name`; its record fills as it goes.
  std::shared_ptr<Record> connect(const std::shared_ptr<const tls::Context>& client,
                                  const std::string& name,
                                  std::function<void(Recorder&)> script = {}) {
    const std::uint16_t port = listener_->local_address().port();
    auto handler = make(clients_);
    const std::shared_ptr<Record> record = clients_.back();
    if (script) script(*handler);
    ++expected_;
    reactor::TcpConnector(loop).connect(
        {"127.0.0.1", port},
        std::make_unique<tls::TlsTransport>(client, tls::EngineOptions{name, port, 0},
                                            std::move(handler), tls::TransportOptions{}));
    return record;
  }

  // Runs until every client and the server side of each ended.
  void run() { loop.run(); }

  // After `delay` on this loop, runs `fn` (an answer held back).
  void later(std::chrono::milliseconds delay, std::function<void()> fn) {
    timers.emplace_back(loop).start(delay, 0ms, std::move(fn));
  }

  const std::vector<std::shared_ptr<Record>>& servers() const { return servers_; }
  std::uint16_t port() const { return listener_->local_address().port(); }

  int close() {
    timers.clear();
    listener_.reset();
    dog.reset();
    return loop.close();
  }

 private:
  std::unique_ptr<Recorder> make(std::vector<std::shared_ptr<Record>>& side) {
    side.push_back(std::make_shared<Record>());
    auto handler = std::make_unique<Recorder>(side.back());
    handler->closed = [this](reactor::Connection&, const reactor::Error&) {
      if (++closed_ == 2 * expected_) loop.stop();
    };
    return handler;
  }

  std::optional<reactor::TcpListener> listener_;
  std::vector<std::shared_ptr<Record>> servers_;
  std::vector<std::shared_ptr<Record>> clients_;
  std::size_t expected_ = 0;
  std::size_t closed_ = 0;
};

// A client that notes the certificate it was shown, then closes.
void note_subject_and_close(Recorder& h, std::string& subject) {
  h.open = [&subject](reactor::Connection& c) {
    subject = tls::info(c)->peer_subject;
    c.close();
  };
}

std::shared_ptr<const tls::Context> trusting(const std::string& ca_file) {
  tls::ClientConfig cc;
  cc.ca_file = ca_file;
  return test_support::client_context(cc);
}

// Development identities for `names`, each with its own CA, and one file trusting all the CAs.
struct Tenants {
  std::map<std::string, tls::dev::Files> files;
  std::string all_cas;

  Tenants(const test_support::TestPki& pki, const std::vector<std::string>& names) {
    all_cas = pki.path("tenant-cas.pem");
    std::ofstream bundle(all_cas);
    for (const std::string& name : names) {
      files[name] = test_support::must(
          tls::dev::write(tls::dev::generate({name}), pki.path("tenant-" + name)));
      std::ifstream ca(files[name].ca_file);
      bundle << ca.rdbuf();
    }
  }
};

}  // namespace

TEST_CASE(
    "100 concurrent handshakes, each hello decision held 1 to 100 ms on a timer, each get the certificate for their name") {
  test_support::TestPki pki;
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) names.push_back("t" + std::to_string(i) + ".test");
  const Tenants tenants(pki, names);
  std::map<std::string, std::shared_ptr<const tls::Context>> contexts;
  for (const auto& [name, files] : tenants.files) {
    tls::ServerConfig sc;
    sc.certificates = {files.leaf};
    contexts[name] = test_support::server_context(sc);
  }

  std::mt19937 rng(2024);
  std::unique_ptr<Rig> rig;
  int asked = 0;
  tls::ServerConfig sc;
  sc.certificates = {pki.ecdsa.leaf};  // localhost only: every tenant comes from the decision
  sc.on_client_hello = [&](const tls::ClientHello& hello, tls::HelloDecision decision) {
    ++asked;
    const auto delay = std::chrono::milliseconds(1 + rng() % 100);
    // Inside OpenSSL's callback: only start the timer; the answer comes from the loop later.
    rig->later(delay, [&contexts, name = hello.server_name, decision] {
      decision.use(contexts.at(name));
    });
  };
  rig = std::make_unique<Rig>(test_support::server_context(sc));

  const auto client = trusting(tenants.all_cas);
  std::vector<std::string> seen(100);
  std::vector<std::shared_ptr<Record>> records;
  for (int i = 0; i < 100; ++i) {
    records.push_back(rig->connect(
        client, names[static_cast<std::size_t>(i) % names.size()],
        [&seen, i](Recorder& h) { note_subject_and_close(h, seen[static_cast<std::size_t>(i)]); }));
  }
  rig->run();
  CHECK(asked == 100);
  for (std::size_t i = 0; i < 100; ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(!records[i]->error, records[i]->error.message());
    CHECK(seen[i].ends_with("/CN=" + names[i % names.size()]));
  }
  for (const auto& server : rig->servers()) CHECK_MESSAGE(!server->error, server->error.message());
  CHECK(rig->close() == 0);
}

TEST_CASE(
    "a ClientHello rejected after a delay: the client gets the unrecognized_name alert and a clear error") {
  test_support::TestPki pki;
  std::unique_ptr<Rig> rig;
  tls::ServerConfig sc;
  sc.certificates = {pki.ecdsa.leaf};
  sc.on_client_hello = [&](const tls::ClientHello&, tls::HelloDecision decision) {
    rig->later(20ms, [decision] { decision.reject(SSL_AD_UNRECOGNIZED_NAME); });
  };
  rig = std::make_unique<Rig>(test_support::server_context(sc));
  const auto client = rig->connect(trusting(pki.ecdsa.ca_file), "nobody.test");
  rig->run();
  CHECK_FALSE(client->opened);
  CHECK(client->error.code() == tls::Errc::handshake_failed);
  CHECK(client->error.message() == "handshake: handshake failed: tlsv1 unrecognized name");
  REQUIRE(rig->servers().size() == 1);
  CHECK(rig->servers()[0]->error.message() ==
        "handshake: no certificate for the requested server name: nobody.test");
  CHECK(rig->close() == 0);
}

TEST_CASE(
    "CertificateDirectory serves a name whose files appeared after the server started, the handshake parked on WANT_CLIENT_HELLO_CB while they load") {
  test_support::TestPki pki;
  const std::string dir = pki.path("sites");
  std::filesystem::create_directories(dir);
  tls::ServerConfig sc;
  sc.certificates = {pki.ecdsa.leaf};
  auto directory = tls::CertificateDirectory::create(dir, sc);
  const auto directory_hook = directory->hook();
  std::unique_ptr<Rig> rig;
  // The late name's key is a FIFO that the loop fills only after the hook has returned, so the
  // worker's load cannot finish before OpenSSL was told SSL_CLIENT_HELLO_RETRY: the handshake
  // parks however the threads are scheduled. (Were the load made inside the hook, the loop
  // would block on the FIFO and the watchdog would fail the test.)
  std::string key_fifo;
  std::string key_pem;
  sc.on_client_hello = [&](const tls::ClientHello& hello, tls::HelloDecision decision) {
    directory_hook(hello, std::move(decision));
    if (key_fifo.empty()) return;
    rig->later(0ms, [&, fifo = std::exchange(key_fifo, {})] { std::ofstream(fifo) << key_pem; });
  };
  rig = std::make_unique<Rig>(test_support::server_context(sc));
  std::uint64_t parks = 0;
  rig->server_script = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      parks = dynamic_cast<tls::TlsTransport&>(c).engine().result_count(
          tls::Engine::Op::handshake, SSL_ERROR_WANT_CLIENT_HELLO_CB);
    };
  };

  // Not there yet: refused, and not remembered as missing.
  const auto early = rig->connect(trusting(pki.ecdsa.ca_file), "late.test");
  rig->run();
  CHECK(early->error.message() == "handshake: handshake failed: tlsv1 unrecognized name");
  CHECK(directory->loaded() == 0);

  const auto files =
      test_support::must(tls::dev::write(tls::dev::generate({"late.test"}), dir + "/late.test"));
  {
    std::ifstream key(files.leaf.key_file);
    key_pem.assign(std::istreambuf_iterator<char>(key), {});
  }
  REQUIRE(std::filesystem::remove(files.leaf.key_file));
  REQUIRE(::mkfifo(files.leaf.key_file.c_str(), 0600) == 0);
  key_fifo = files.leaf.key_file;
  std::string subject;
  const auto late = rig->connect(trusting(files.ca_file), "late.test",
                                 [&](Recorder& h) { note_subject_and_close(h, subject); });
  rig->run();
  CHECK_MESSAGE(!late->error, late->error.message());
  CHECK(subject.ends_with("/CN=late.test"));
  CHECK(parks == 1);
  CHECK(directory->loaded() == 1);
  CHECK(directory->loads() == 2);
  CHECK(rig->close() == 0);
}

TEST_CASE("a server certificate chosen 30 ms later on a timer is the one our client verifies") {
  test_support::TestPki pki;
  const auto rsa = test_support::must(tls::Certificate::load(pki.rsa.leaf));
  std::unique_ptr<Rig> rig;
  std::string asked_name;
  tls::ServerConfig sc;
  sc.certificates = {pki.ecdsa.leaf};
  sc.max_version = TLS1_2_VERSION;  // so the cipher names the key type
  sc.on_certificate = [&](const tls::CertificateRequest& request, tls::CertificateChoice choice) {
    asked_name = request.server_name;
    rig->later(30ms, [choice, rsa] { choice.use(rsa); });
  };
  rig = std::make_unique<Rig>(test_support::server_context(sc));
  std::string cipher;
  const auto client = rig->connect(trusting(pki.all_server_cas), "localhost", [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      cipher = tls::info(c)->cipher;
      c.close();
    };
  });
  rig->run();
  CHECK_MESSAGE(!client->error, client->error.message());
  CHECK(asked_name == "localhost");
  CHECK(cipher.starts_with("ECDHE-RSA-"));  // the configured certificate is ECDSA
  CHECK(rig->close() == 0);
}

TEST_CASE(
    "mutual TLS with a client certificate chosen after a delay: the server requiring one accepts it") {
  test_support::TestPki pki;
  tls::ServerConfig sc;
  sc.certificates = {pki.ecdsa.leaf};
  sc.client_auth = tls::ClientAuth::require;
  sc.client_ca_file = pki.client.ca_file;
  Rig rig(test_support::server_context(sc));
  const auto mine = test_support::must(tls::Certificate::load(pki.client.leaf));
  tls::ClientConfig cc;
  cc.ca_file = pki.ecdsa.ca_file;
  int asked = 0;
  cc.on_client_certificate = [&](const tls::CertificateRequest&, tls::CertificateChoice choice) {
    ++asked;
    rig.later(50ms, [choice, mine] { choice.use(mine); });
  };
  const auto client = rig.connect(test_support::client_context(cc), "localhost", [](Recorder& h) {
    h.open = [](reactor::Connection& c) {
      c.write("hi");
      c.close();
    };
  });
  rig.run();
  // A server that requires a certificate reads nothing from a client without one.
  CHECK(asked == 1);
  REQUIRE(rig.servers().size() == 1);
  CHECK(rig.servers()[0]->data == "hi");
  CHECK_MESSAGE(!client->error, client->error.message());
  CHECK(rig.close() == 0);
}

TEST_CASE(
    "an on_verify policy answered on a timer: accepted connects, rejected fails with bad_certificate") {
  test_support::TestPki pki;
  for (const bool accept : {true, false}) {
    CAPTURE(accept);
    tls::ServerConfig sc;
    sc.certificates = {pki.ecdsa.leaf};
    Rig rig(test_support::server_context(sc));
    tls::ClientConfig cc;
    cc.ca_file = pki.ecdsa.ca_file;
    cc.on_verify = [&](const tls::VerifyRequest& request, tls::VerifyDecision decision) {
      CHECK(request.host == "localhost");
      rig.later(30ms, [decision, accept] {
        if (accept)
          decision.accept();
        else
          decision.reject("revoked");
      });
    };
    std::string subject;
    const auto client = rig.connect(test_support::client_context(cc), "localhost",
                                    [&](Recorder& h) { note_subject_and_close(h, subject); });
    rig.run();
    REQUIRE(rig.servers().size() == 1);
    if (accept) {
      CHECK_MESSAGE(!client->error, client->error.message());
      CHECK(subject.ends_with("/CN=localhost"));
    } else {
      CHECK_FALSE(client->opened);
      CHECK(client->error.code() == tls::Errc::verify_failed);
      CHECK(
          client->error.message() ==
          "handshake: certificate verify failed: certificate rejected by the application: revoked");
      CHECK(rig.servers()[0]->error.message() ==
            "handshake: handshake failed: sslv3 alert bad certificate");
    }
    CHECK(rig.close() == 0);
  }
}

TEST_CASE(
    "a hello decision answered after its connection timed out, and its loop is gone, touches nothing") {
  test_support::TestPki pki;
  std::unique_ptr<Rig> rig;
  std::optional<tls::HelloDecision> held;
  tls::ServerConfig sc;
  sc.certificates = {pki.ecdsa.leaf};
  sc.on_client_hello = [&](const tls::ClientHello&, tls::HelloDecision decision) {
    held = decision;
  };
  tls::TransportOptions server_options;
  server_options.handshake_timeout = 100ms;
  rig = std::make_unique<Rig>(test_support::server_context(sc), server_options);
  const auto client = rig->connect(trusting(pki.ecdsa.ca_file), "localhost");
  rig->run();  // the server gives up on the handshake, the client sees it close
  REQUIRE(rig->servers().size() == 1);
  CHECK(rig->servers()[0]->error.code() == tls::Errc::handshake_timeout);
  CHECK(client->error);
  CHECK(rig->close() == 0);
  rig.reset();  // the loop the connection's waker posted to is destroyed
  REQUIRE(held);
  CHECK_FALSE(held->answered());
  held->proceed();  // freeing the SSL disarmed the waker: nothing is posted anywhere (ASan)
  CHECK(held->answered());
}

TEST_CASE(
    "a certificate choice still pending when the peer resets is dropped, and the next client is served") {
  test_support::TestPki pki;
  const auto rsa = test_support::must(tls::Certificate::load(pki.rsa.leaf));
  std::unique_ptr<Rig> rig;
  std::optional<tls::CertificateChoice> held;
  tls::ServerConfig sc;
  sc.certificates = {pki.ecdsa.leaf};
  sc.max_version = TLS1_2_VERSION;  // so the cipher names the key type
  std::shared_ptr<Record> second;
  std::string cipher;
  // Once the first handshake has parked (its hook holds the choice), on the loop's next turn:
  // the reset and the second client follow that event, not a timer that might come first.
  std::function<void()> reset_and_connect_again;
  sc.on_certificate = [&](const tls::CertificateRequest&, tls::CertificateChoice choice) {
    if (held) {
      choice.use(rsa);  // the next ones are answered at once
      return;
    }
    held = choice;  // the first connection waits
    rig->later(0ms, reset_and_connect_again);
  };
  rig = std::make_unique<Rig>(test_support::server_context(sc));
  const auto ca = trusting(pki.all_server_cas);
  const auto first = rig->connect(ca, "localhost");
  reset_and_connect_again = [&] {
    // The client of the parked handshake resets its TCP connection (its peer is the listener).
    rig->loop.for_each_connection([&](reactor::Connection& c) {
      if (c.peer_address().port() == rig->port()) c.abort();
    });
    second = rig->connect(ca, "localhost", [&](Recorder& h) {
      h.open = [&](reactor::Connection& c) {
        // By now the first server connection has ended: its answer comes too late and must
        // touch nothing (ASan).
        CHECK(rig->servers()[0]->closed);
        CHECK_FALSE(held->answered());
        held->use(rsa);
        cipher = tls::info(c)->cipher;
        c.close();
      };
    });
  };
  rig->run();
  REQUIRE(rig->servers().size() == 2);
  CHECK((rig->servers()[0]->error.code() == std::errc::connection_reset));
  CHECK_FALSE(rig->servers()[0]->opened);
  CHECK(first->error.code() == reactor::Errc::aborted);
  REQUIRE(second);
  CHECK_MESSAGE(!second->error, second->error.message());
  CHECK(cipher.starts_with("ECDHE-RSA-"));
  CHECK(rig->close() == 0);
}

TEST_CASE("handshake_time counts from TCP open and includes a ClientHello decision held 200 ms") {
  test_support::TestPki pki;
  std::unique_ptr<Rig> rig;
  tls::ServerConfig sc;
  sc.certificates = {pki.ecdsa.leaf};
  sc.on_client_hello = [&](const tls::ClientHello&, tls::HelloDecision decision) {
    rig->later(200ms, [decision] { decision.proceed(); });
  };
  rig = std::make_unique<Rig>(test_support::server_context(sc));
  std::chrono::microseconds server_time{0}, client_time{0};
  rig->server_script = [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) { server_time = tls::info(c)->handshake_time; };
  };
  const auto client = rig->connect(trusting(pki.ecdsa.ca_file), "localhost", [&](Recorder& h) {
    h.open = [&](reactor::Connection& c) {
      client_time = tls::info(c)->handshake_time;
      c.close();
    };
  });
  rig->run();
  CHECK_MESSAGE(!client->error, client->error.message());
  // Lower bounds only: the decision was held back 200 ms, so neither side can have finished
  // sooner (an upper bound would depend on the machine's load).
  CHECK(server_time >= 200ms);
  CHECK(client_time >= 200ms);
  CHECK(rig->close() == 0);
}

TEST_CASE(
    "a client whose on_open throws after a verify decision's wake-up is aborted alone, with "
    "handler_failed, and the next client on the loop connects") {
  test_support::TestPki pki;
  tls::ServerConfig sc;
  sc.certificates = {pki.ecdsa.leaf};
  Rig rig(test_support::server_context(sc));
  tls::ClientConfig cc;
  cc.ca_file = pki.ecdsa.ca_file;
  int decisions = 0;
  cc.on_verify = [&](const tls::VerifyRequest&, tls::VerifyDecision decision) {
    ++decisions;
    // The handshake resumes in the drive posted by the waker, which then calls on_open.
    rig.later(10ms, [decision] { decision.accept(); });
  };
  const auto client_context = test_support::client_context(cc);
  std::string second_subject;
  const auto first = rig.connect(client_context, "localhost", [&](Recorder& h) {
    h.open = [&](reactor::Connection&) {
      rig.connect(client_context, "localhost",
                  [&](Recorder& second) { note_subject_and_close(second, second_subject); });
      throw std::runtime_error("refused after verification");
    };
  });
  rig.run();
  CHECK(decisions == 2);
  CHECK(first->opened);
  CHECK(first->error.code() == reactor::Errc::handler_failed);
  CHECK(first->error.message() == "refused after verification: the handler threw an exception");
  CHECK(second_subject.ends_with("/CN=localhost"));
  REQUIRE(rig.servers().size() == 2);
  CHECK(rig.servers()[0]->error);  // the reset, seen while reading or writing
  CHECK_MESSAGE(!rig.servers()[1]->error, rig.servers()[1]->error.message());
  CHECK(rig.close() == 0);
}
