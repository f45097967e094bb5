#include "tls/Digest.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace tls {

std::array<std::byte, 20> sha1(std::span<const std::byte> data) {
  std::array<std::byte, 20> digest{};
  unsigned int length = 0;
  // EVP_Digest is one-shot; a failure (a provider that refuses SHA-1) is not the input's fault.
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(digest.data()), &length,
                 EVP_sha1(), nullptr) != 1 ||
      length != digest.size())
    throw std::runtime_error("SHA-1 is unavailable from OpenSSL");
  return digest;
}

}  // namespace tls
