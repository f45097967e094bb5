#include "tls/DevCert.hpp"

#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <ctime>
#include <stdexcept>
#include <string>

#include "tests/support/TestDir.hpp"
#include "tls/Ptr.hpp"

namespace {

tls::X509Ptr parse_cert(const std::string& pem) {
  const tls::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  tls::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(cert);
  return cert;
}

tls::EvpPkeyPtr parse_key(const std::string& pem) {
  const tls::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  tls::EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(key);
  return key;
}

// X509_verify_cert against a store that trusts only `ca`, checking for TLS server use.
int verify(X509* leaf, X509* ca) {
  const tls::X509StorePtr store(X509_STORE_new());
  REQUIRE(X509_STORE_add_cert(store.get(), ca) == 1);
  const tls::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) == 1);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  const int ok = X509_verify_cert(ctx.get());
  return ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx.get());
}

int count_certificates(const std::string& pem) {
  const tls::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  int n = 0;
  while (tls::X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))) ++n;
  ERR_clear_error();
  return n;
}

}  // namespace

TEST_CASE("a dev certificate carries its names and verifies against its own CA") {
  const auto pem = tls::dev::generate({"localhost", "*.dev.test", "127.0.0.1", "::1"});
  const auto leaf = parse_cert(pem.cert);
  const auto ca = parse_cert(pem.ca_cert);

  CHECK(verify(leaf.get(), ca.get()) == X509_V_OK);
  CHECK(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(leaf.get(), "api.dev.test", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(leaf.get(), "example.com", 0, 0, nullptr) == 0);
  CHECK(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(leaf.get(), "::1", 0) == 1);
  CHECK(X509_check_ip_asc(leaf.get(), "10.0.0.1", 0) == 0);
  // The CA can sign, the leaf cannot; the key is the leaf's.
  CHECK(X509_check_ca(ca.get()) == 1);
  CHECK(X509_check_ca(leaf.get()) == 0);
  CHECK(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_CLIENT, 0) == 1);
  const auto key = parse_key(pem.key);
  CHECK(X509_check_private_key(leaf.get(), key.get()) == 1);
  CHECK(EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC);
  CHECK(pem.key.starts_with("-----BEGIN PRIVATE KEY-----"));  // PKCS#8
}

TEST_CASE("a dev certificate is valid from an hour ago for the days asked") {
  const auto leaf =
      parse_cert(tls::dev::generate({"localhost"}, tls::dev::KeyType::ecdsa_p256, 7).cert);
  const std::time_t now = std::time(nullptr);
  std::time_t an_hour_ago = now - 3600 + 60;
  std::time_t just_before = now - 3600 - 60;
  CHECK(X509_cmp_time(X509_get0_notBefore(leaf.get()), &an_hour_ago) < 0);
  CHECK(X509_cmp_time(X509_get0_notBefore(leaf.get()), &just_before) > 0);
  std::time_t six_days = now + 6 * 86400;
  std::time_t eight_days = now + 8 * 86400;
  CHECK(X509_cmp_time(X509_get0_notAfter(leaf.get()), &six_days) > 0);
  CHECK(X509_cmp_time(X509_get0_notAfter(leaf.get()), &eight_days) < 0);
}

TEST_CASE("an RSA dev certificate has an RSA key of the size asked") {
  const auto pem = tls::dev::generate({"localhost"}, tls::dev::KeyType::rsa_2048);
  const auto key = parse_key(pem.key);
  CHECK(EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA);
  CHECK(EVP_PKEY_get_bits(key.get()) == 2048);
  CHECK(verify(parse_cert(pem.cert).get(), parse_cert(pem.ca_cert).get()) == X509_V_OK);
}

TEST_CASE("two dev certificates share no key, serial or trust") {
  const auto a = tls::dev::generate({"localhost"});
  const auto b = tls::dev::generate({"localhost"});
  CHECK(a.key != b.key);
  const auto leaf_a = parse_cert(a.cert);
  const auto leaf_b = parse_cert(b.cert);
  CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(leaf_a.get()),
                         X509_get0_serialNumber(leaf_b.get())) != 0);
  // A 128-bit serial: 16 bytes, positive.
  const auto serial =
      tls::BignumPtr(ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf_a.get()), nullptr));
  CHECK(BN_num_bytes(serial.get()) == 16);
  CHECK(BN_is_negative(serial.get()) == 0);
  CHECK(verify(leaf_a.get(), parse_cert(b.ca_cert).get()) != X509_V_OK);
}

TEST_CASE("a dev certificate with no names is refused") {
  CHECK_THROWS_AS(tls::dev::generate({}), std::invalid_argument);
}

TEST_CASE("writing dev files puts the chain in cert.pem and keeps the key private") {
  const test_support::TestDir dir;
  const auto pem = tls::dev::generate({"localhost"});
  const auto written = tls::dev::write(pem, dir.path("certs/dev"));
  REQUIRE_MESSAGE(written, written.error().message());
  const tls::dev::Files& files = *written;
  CHECK(files.ca_file == dir.path("certs/dev/ca.pem"));
  CHECK(files.leaf.cert_file == dir.path("certs/dev/cert.pem"));
  CHECK(files.leaf.key_file == dir.path("certs/dev/key.pem"));

  CHECK(test_support::TestDir::read(files.ca_file) == pem.ca_cert);
  CHECK(test_support::TestDir::read(files.leaf.cert_file) == pem.cert + pem.ca_cert);
  CHECK(count_certificates(test_support::TestDir::read(files.leaf.cert_file)) == 2);
  CHECK(test_support::TestDir::read(files.leaf.key_file) == pem.key);

  struct stat info {};
  REQUIRE(::stat(files.leaf.key_file.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  REQUIRE(::stat(dir.path("certs/dev").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0700);

  // Writing again over the same files works and leaves no temporary files behind.
  const auto again = tls::dev::write(tls::dev::generate({"localhost"}), dir.path("certs/dev"));
  CHECK_MESSAGE(again, again.error().message());
  CHECK(test_support::TestDir::read(files.leaf.key_file) != pem.key);
  CHECK_FALSE(std::filesystem::exists(files.leaf.key_file + ".tmp"));
}

TEST_CASE("writing dev files where no directory can be made names the path") {
  const test_support::TestDir dir;
  const std::string blocker = dir.write("file", "x");
  const auto files = tls::dev::write(tls::dev::generate({"localhost"}), blocker + "/sub");
  CHECK_FALSE(files);
  CHECK(files.error().code());
  CHECK(files.error().message().find(blocker + "/sub") != std::string::npos);
}
