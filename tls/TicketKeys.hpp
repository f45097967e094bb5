// Private to tls::Context: session ticket keys in nginx's ssl_session_ticket_key format, so one
// key file resumes sessions identically here and in nginx (and across processes and machines).
//
// File layout (nginx, src/event/ngx_event_openssl.c), random bytes:
//   80 bytes: name[0,16)  HMAC-SHA256 key[16,48)  AES-256-CBC key[48,80)
//   48 bytes: name[0,16)  AES-128-CBC key[16,32)  HMAC-SHA256 key[32,48)   (note the swap)
// The ticket itself is OpenSSL's: name, IV, AES-CBC ciphertext, HMAC-SHA256 over all of those.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "reactor/Error.hpp"

namespace tls {

struct TicketKey {
  static constexpr std::size_t name_size = 16;

  std::array<unsigned char, name_size> name{};
  std::array<unsigned char, 32> hmac_key{};  // the first hmac_size bytes are used
  std::array<unsigned char, 32> aes_key{};   // the first aes_size bytes are used
  std::size_t hmac_size = 0;
  std::size_t aes_size = 0;

  TicketKey() = default;
  TicketKey(const TicketKey&) = default;
  TicketKey& operator=(const TicketKey&) = default;
  ~TicketKey();

  // From the raw contents of a key file (48 or 80 bytes); false for any other size.
  static bool parse(std::span<const unsigned char> bytes, TicketKey& out) noexcept;
  // A fresh key in the 80-byte layout, from the OS RNG; false only if the RNG fails.
  static bool random(TicketKey& out) noexcept;
  const EVP_CIPHER* cipher() const noexcept;
};

using TicketKeyList = std::vector<TicketKey>;

// Thread-safety: the key list is swapped atomically; the ticket callback may run on any thread
// while rotate() runs on another. A callback that already holds the old list finishes with it.
class TicketKeys {
 public:
  // Empty until set(): with no key, no ticket is issued and none is accepted.
  TicketKeys() = default;
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // Loads the key files; on error names the file ("ticket key file /k: is 47 bytes, ...").
  static reactor::Result<TicketKeyList> load(const std::vector<std::string>& files);

  // Replaces the list (the first key encrypts new tickets; every key still decrypts).
  void set(TicketKeyList keys);
  // Loads and sets, or leaves the list as it was and says why.
  reactor::Error rotate(const std::vector<std::string>& files);
  std::shared_ptr<const TicketKeyList> current() const noexcept { return keys_.load(); }

  // The body of SSL_CTX_set_tlsext_ticket_key_evp_cb: returns 1 (ok), 2 (ok, issue a fresh
  // ticket under the current key: for every TLS 1.3 resumption, and for a TLS 1.2 ticket under
  // a key other than the first), 0 (unknown key: full handshake) or -1 (error).
  int on_ticket(bool tls13, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                EVP_MAC_CTX* mac, int encrypt) const noexcept;

 private:
  std::atomic<std::shared_ptr<const TicketKeyList>> keys_;
};

}  // namespace tls
