// Certificates minted for one test run (never committed): a server identity for ECDSA and for
// RSA, two more for SNI, and a client identity from a separate CA for mutual TLS. Files live in
// a temporary directory removed at the end.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <openssl/pem.h>

#include "tls/Context.hpp"
#include "tls/DevCert.hpp"
#include "tls/Loader.hpp"
#include "tls/Ptr.hpp"

namespace test_support {

class TestPki {
 public:
  TestPki() {
    std::string templ = (std::filesystem::temp_directory_path() / "tlsreactor-pki-XXXXXX").string();
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    dir_ = templ;
    ecdsa = make("ecdsa", {"localhost", "127.0.0.1", "::1"}, tls::dev::KeyType::ecdsa_p256);
    rsa = make("rsa", {"localhost", "127.0.0.1"}, tls::dev::KeyType::rsa_2048);
    other = make("other", {"other.test"}, tls::dev::KeyType::ecdsa_p256);
    wild = make("wild", {"*.wild.test"}, tls::dev::KeyType::ecdsa_p256);
    client = make("client", {"client.test"}, tls::dev::KeyType::ecdsa_p256);
    // One trust file for every server identity, so a client can verify any of them.
    all_server_cas = (dir_ / "server-cas.pem").string();
    std::ofstream out(all_server_cas);
    for (const auto* f : {&ecdsa, &rsa, &other, &wild}) out << read(f->ca_file);
  }
  ~TestPki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  tls::dev::Files ecdsa, rsa, other, wild, client;
  std::string all_server_cas;

 private:
  tls::dev::Files make(const std::string& name, const std::vector<std::string>& names,
                       tls::dev::KeyType type) {
    auto files = tls::dev::write(tls::dev::generate(names, type), (dir_ / name).string());
    REQUIRE_MESSAGE(files, files.error().message());
    return *files;
  }
  static std::string read(const std::string& file) {
    std::ifstream in(file);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  std::filesystem::path dir_;
};

// The value of a call that must succeed in a test (docs/errors.md's Result), or the test stops
// with the Error's message.
template <typename T>
T must(reactor::Result<T> made) {
  REQUIRE_MESSAGE(made, made.error().message());
  return std::move(made).value();
}

inline std::shared_ptr<const tls::Context> server_context(const tls::ServerConfig& config) {
  auto ctx = tls::Context::server(config);
  REQUIRE_MESSAGE(ctx, ctx.error().message());
  return *ctx;
}

inline std::shared_ptr<const tls::Context> client_context(const tls::ClientConfig& config) {
  auto ctx = tls::Context::client(config);
  REQUIRE_MESSAGE(ctx, ctx.error().message());
  return *ctx;
}

// A server that presents `files`' certificate, with every other setting at its default.
inline tls::ServerConfig serving(const tls::dev::Files& files) {
  tls::ServerConfig c;
  c.certificates = {files.leaf};
  return c;
}

// A client that verifies against `ca_file`, with every other setting at its default.
inline tls::ClientConfig trusting(const std::string& ca_file) {
  tls::ClientConfig c;
  c.ca_file = ca_file;
  return c;
}

// A PEM private key, for Signers that keep the key themselves.
inline tls::EvpPkeyPtr load_key(const std::string& file) {
  std::string pem;
  std::string reason;
  REQUIRE_MESSAGE(tls::read_file(file, pem, reason), reason);
  const tls::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return tls::EvpPkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

}  // namespace test_support
