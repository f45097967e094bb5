#include "tls/TicketKeys.hpp"

#include <doctest/doctest.h>

#include <openssl/evp.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/TestDir.hpp"
#include "tls/Errors.hpp"
#include "tls/Ptr.hpp"

namespace {

// Bytes 0, 1, 2, ... so every field's offset in the file is visible in the parsed key.
std::string counting_bytes(std::size_t size, unsigned char first = 0) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(first + i);
  return bytes;
}

std::vector<unsigned char> range(unsigned char from, std::size_t size) {
  std::vector<unsigned char> out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<unsigned char>(from + i);
  return out;
}

template <std::size_t N>
std::vector<unsigned char> head(const std::array<unsigned char, N>& a, std::size_t size) {
  return {a.begin(), a.begin() + static_cast<std::ptrdiff_t>(size)};
}

using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, tls::Free<EVP_CIPHER_CTX_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, tls::Free<EVP_MAC_CTX_free>>;
using MacPtr = std::unique_ptr<EVP_MAC, tls::Free<EVP_MAC_free>>;

// What OpenSSL does around the callback, reduced to its core: the callback sets cipher and MAC
// keys, the library encrypts (or decrypts) the session and MACs the ciphertext.
struct Sealed {
  std::array<unsigned char, 16> name{};
  std::array<unsigned char, EVP_MAX_IV_LENGTH> iv{};
  std::vector<unsigned char> ciphertext;
  std::vector<unsigned char> mac;
};

std::vector<unsigned char> mac_of(EVP_MAC_CTX* mac, const std::vector<unsigned char>& data) {
  REQUIRE(EVP_MAC_update(mac, data.data(), data.size()) == 1);
  std::vector<unsigned char> out(EVP_MAX_MD_SIZE);
  std::size_t size = 0;
  REQUIRE(EVP_MAC_final(mac, out.data(), &size, out.size()) == 1);
  out.resize(size);
  return out;
}

Sealed seal(const tls::TicketKeys& keys, const std::string& session, int& result) {
  const MacPtr hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  const CipherCtxPtr cipher(EVP_CIPHER_CTX_new());
  const MacCtxPtr mac(EVP_MAC_CTX_new(hmac.get()));
  Sealed sealed;
  result = keys.on_ticket(false, sealed.name.data(), sealed.iv.data(), cipher.get(), mac.get(), 1);
  if (result != 1) return sealed;
  sealed.ciphertext.resize(session.size() + 32);
  int n = 0;
  int final_n = 0;
  REQUIRE(EVP_EncryptUpdate(cipher.get(), sealed.ciphertext.data(), &n,
                            reinterpret_cast<const unsigned char*>(session.data()),
                            static_cast<int>(session.size())) == 1);
  REQUIRE(EVP_EncryptFinal_ex(cipher.get(), sealed.ciphertext.data() + n, &final_n) == 1);
  sealed.ciphertext.resize(static_cast<std::size_t>(n + final_n));
  sealed.mac = mac_of(mac.get(), sealed.ciphertext);
  return sealed;
}

// Returns the callback's result; on success `session` is the decrypted plaintext, and empty if
// the MAC did not match.
int open_ticket(const tls::TicketKeys& keys, Sealed sealed, bool tls13, std::string& session) {
  const MacPtr hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  const CipherCtxPtr cipher(EVP_CIPHER_CTX_new());
  const MacCtxPtr mac(EVP_MAC_CTX_new(hmac.get()));
  const int result =
      keys.on_ticket(tls13, sealed.name.data(), sealed.iv.data(), cipher.get(), mac.get(), 0);
  session.clear();
  if (result < 1) return result;
  if (mac_of(mac.get(), sealed.ciphertext) != sealed.mac) return result;
  std::vector<unsigned char> plain(sealed.ciphertext.size() + 32);
  int n = 0;
  int final_n = 0;
  REQUIRE(EVP_DecryptUpdate(cipher.get(), plain.data(), &n, sealed.ciphertext.data(),
                            static_cast<int>(sealed.ciphertext.size())) == 1);
  REQUIRE(EVP_DecryptFinal_ex(cipher.get(), plain.data() + n, &final_n) == 1);
  session.assign(reinterpret_cast<const char*>(plain.data()),
                 static_cast<std::size_t>(n + final_n));
  return result;
}

tls::TicketKeyList load(const std::vector<std::string>& files) {
  auto keys = tls::TicketKeys::load(files);
  REQUIRE_MESSAGE(keys, keys.error().message());
  return *keys;
}

}  // namespace

TEST_CASE("an 80-byte ticket key file parses as nginx lays it out") {
  const test_support::TestDir dir;
  const auto keys = load({dir.write("80.key", counting_bytes(80))});
  REQUIRE(keys.size() == 1);
  const tls::TicketKey& key = keys.front();
  CHECK(std::vector<unsigned char>(key.name.begin(), key.name.end()) == range(0, 16));
  CHECK(key.hmac_size == 32);
  CHECK(head(key.hmac_key, 32) == range(16, 32));
  CHECK(key.aes_size == 32);
  CHECK(head(key.aes_key, 32) == range(48, 32));
  CHECK(key.cipher() == EVP_aes_256_cbc());
}

TEST_CASE("a 48-byte ticket key file parses with nginx's AES-before-HMAC order") {
  const test_support::TestDir dir;
  const auto keys = load({dir.write("48.key", counting_bytes(48))});
  REQUIRE(keys.size() == 1);
  const tls::TicketKey& key = keys.front();
  CHECK(std::vector<unsigned char>(key.name.begin(), key.name.end()) == range(0, 16));
  CHECK(key.aes_size == 16);
  CHECK(head(key.aes_key, 16) == range(16, 16));
  CHECK(key.hmac_size == 16);
  CHECK(head(key.hmac_key, 16) == range(32, 16));
  CHECK(key.cipher() == EVP_aes_128_cbc());
}

TEST_CASE("a ticket key file of the wrong size is refused with its name and size") {
  const test_support::TestDir dir;
  const std::string good = dir.write("good.key", counting_bytes(80));
  const std::string short_file = dir.write("short.key", counting_bytes(47));
  const auto refused = tls::TicketKeys::load({good, short_file});
  CHECK_FALSE(refused);
  CHECK((refused.error().code() == tls::Errc::config));
  CHECK(refused.error().detail().find(short_file) != std::string::npos);
  CHECK(refused.error().detail().find("47 bytes") != std::string::npos);

  const auto too_long = tls::TicketKeys::load({dir.write("long.key", counting_bytes(81))});
  CHECK_FALSE(too_long);
  CHECK(too_long.error().detail().find("81 bytes") != std::string::npos);
}

TEST_CASE("a missing ticket key file is refused with the OS's reason") {
  const test_support::TestDir dir;
  const auto refused = tls::TicketKeys::load({dir.path("absent.key")});
  CHECK_FALSE(refused);
  CHECK(refused.error().detail() ==
        "ticket key file " + dir.path("absent.key") + ": No such file or directory");
}

TEST_CASE("random ticket keys use the 80-byte layout and differ every time") {
  tls::TicketKey a;
  tls::TicketKey b;
  REQUIRE(tls::TicketKey::random(a));
  REQUIRE(tls::TicketKey::random(b));
  CHECK(a.aes_size == 32);
  CHECK(a.hmac_size == 32);
  CHECK(a.name != b.name);
  CHECK(a.aes_key != b.aes_key);
}

TEST_CASE("a ticket sealed under the first key opens under it, and unknown keys are declined") {
  const test_support::TestDir dir;
  tls::TicketKeys keys;
  keys.set(load({dir.write("a.key", counting_bytes(80, 1))}));
  int result = 0;
  const Sealed sealed = seal(keys, "the session state", result);
  REQUIRE(result == 1);
  CHECK(std::vector<unsigned char>(sealed.name.begin(), sealed.name.end()) == range(1, 16));

  std::string session;
  CHECK(open_ticket(keys, sealed, false, session) == 1);
  CHECK(session == "the session state");
  // TLS 1.3 always asks for a fresh ticket: OpenSSL's client uses a session once only.
  CHECK(open_ticket(keys, sealed, true, session) == 2);
  CHECK(session == "the session state");

  tls::TicketKeys others;
  others.set(load({dir.write("b.key", counting_bytes(80, 100))}));
  CHECK(open_ticket(others, sealed, false, session) == 0);  // full handshake, no error
}

TEST_CASE("rotation makes new tickets under the new key and renews those under the old one") {
  const test_support::TestDir dir;
  const std::string old_key = dir.write("old.key", counting_bytes(48, 1));
  const std::string new_key = dir.write("new.key", counting_bytes(80, 100));
  tls::TicketKeys keys;
  keys.set(load({old_key}));
  int result = 0;
  const Sealed old_ticket = seal(keys, "before", result);
  REQUIRE(result == 1);

  const reactor::Error rotated = keys.rotate({new_key, old_key});
  REQUIRE_MESSAGE(!rotated, rotated.message());
  REQUIRE(keys.current()->size() == 2);
  CHECK(keys.current()->front().name[0] == 100);
  const Sealed new_ticket = seal(keys, "after", result);
  REQUIRE(result == 1);
  CHECK(new_ticket.name[0] == 100);

  std::string session;
  CHECK(open_ticket(keys, old_ticket, false, session) == 2);  // resumes, with a renewed ticket
  CHECK(session == "before");
  CHECK(open_ticket(keys, new_ticket, false, session) == 1);
  CHECK(session == "after");

  // A rotation that fails keeps the keys in use.
  CHECK(keys.rotate({dir.write("bad.key", "short")}));
  CHECK(keys.current()->size() == 2);
  REQUIRE_FALSE(keys.rotate({new_key}));
  CHECK(open_ticket(keys, old_ticket, false, session) == 0);
}

TEST_CASE("with no keys no ticket is issued") {
  const tls::TicketKeys keys;
  int result = -1;
  seal(keys, "state", result);
  CHECK(result == 0);
}
