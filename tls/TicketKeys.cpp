#include "tls/TicketKeys.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "tls/Errors.hpp"
#include "tls/Loader.hpp"

namespace tls {
namespace {

bool set_hmac_key(EVP_MAC_CTX* mac, const TicketKey& key) noexcept {
  char digest[] = "SHA256";  // OSSL_PARAM wants a mutable buffer, though it only reads it
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(
          OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.hmac_key.data()), key.hmac_size),
      OSSL_PARAM_construct_end(),
  };
  return EVP_MAC_CTX_set_params(mac, params) == 1;
}

}  // namespace

TicketKey::~TicketKey() {
  OPENSSL_cleanse(hmac_key.data(), hmac_key.size());
  OPENSSL_cleanse(aes_key.data(), aes_key.size());
}

bool TicketKey::parse(std::span<const unsigned char> bytes, TicketKey& out) noexcept {
  const auto copy = [&bytes](std::size_t offset, std::size_t size, unsigned char* to) {
    std::memcpy(to, bytes.data() + offset, size);
  };
  if (bytes.size() == 80) {
    copy(0, 16, out.name.data());
    copy(16, 32, out.hmac_key.data());
    copy(48, 32, out.aes_key.data());
    out.hmac_size = 32;
    out.aes_size = 32;
    return true;
  }
  if (bytes.size() == 48) {
    // nginx's 48-byte layout puts the AES key before the HMAC key, unlike the 80-byte one.
    copy(0, 16, out.name.data());
    copy(16, 16, out.aes_key.data());
    copy(32, 16, out.hmac_key.data());
    out.hmac_size = 16;
    out.aes_size = 16;
    return true;
  }
  return false;
}

bool TicketKey::random(TicketKey& out) noexcept {
  std::array<unsigned char, 80> bytes{};
  const bool ok =
      RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) == 1 && parse(bytes, out);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return ok;
}

const EVP_CIPHER* TicketKey::cipher() const noexcept {
  return aes_size == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
}

reactor::Result<TicketKeyList> TicketKeys::load(const std::vector<std::string>& files) {
  const auto refuse = [](std::string why) {
    return reactor::Error(Errc::config, {}, std::move(why));
  };
  TicketKeyList keys;
  for (const std::string& file : files) {
    SecretString contents;
    std::string reason;
    if (!read_file(file, contents.value, reason, 4096))
      return refuse("ticket key file " + file + ": " + reason);
    TicketKey key;
    const auto* data = reinterpret_cast<const unsigned char*>(contents.value.data());
    if (!TicketKey::parse({data, contents.value.size()}, key)) {
      return refuse("ticket key file " + file + ": is " + std::to_string(contents.value.size()) +
                    " bytes; it must be 80 (AES-256) or 48 (AES-128), as nginx's "
                    "ssl_session_ticket_key");
    }
    keys.push_back(key);
  }
  if (keys.empty()) return refuse("no ticket key files given");
  return keys;
}

void TicketKeys::set(TicketKeyList keys) {
  keys_.store(std::make_shared<const TicketKeyList>(std::move(keys)));
}

reactor::Error TicketKeys::rotate(const std::vector<std::string>& files) {
  auto keys = load(files);
  if (!keys) return keys.error();
  set(std::move(keys).value());
  return {};
}

int TicketKeys::on_ticket(bool tls13, unsigned char* name, unsigned char* iv,
                          EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) const noexcept {
  // Holding the list for the whole call keeps a concurrent rotate() from freeing the key in use.
  const std::shared_ptr<const TicketKeyList> keys = keys_.load();
  if (!keys || keys->empty()) return 0;
  if (encrypt == 1) {
    const TicketKey& key = keys->front();
    const EVP_CIPHER* aes = key.cipher();
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, aes, nullptr, key.aes_key.data(), iv) != 1) return -1;
    if (!set_hmac_key(mac, key)) return -1;
    std::memcpy(name, key.name.data(), key.name.size());
    return 1;
  }
  const auto found = std::find_if(keys->begin(), keys->end(), [name](const TicketKey& key) {
    return CRYPTO_memcmp(name, key.name.data(), key.name.size()) == 0;
  });
  if (found == keys->end()) return 0;
  if (!set_hmac_key(mac, *found)) return -1;
  if (EVP_DecryptInit_ex(cipher, found->cipher(), nullptr, found->aes_key.data(), iv) != 1) {
    return -1;
  }
  // TLS 1.3: always renew. OpenSSL's server sends no new ticket after a resumption unless told
  // to, and OpenSSL's client uses a TLS 1.3 session once only, so without this every second
  // connection would be a full handshake (nginx renews here too).
  if (tls13) return 2;
  // TLS 1.2: a ticket under an older key still resumes, and the client gets a new one under the
  // current key, so that the old key can be retired after one ticket lifetime.
  return found == keys->begin() ? 1 : 2;
}

}  // namespace tls
