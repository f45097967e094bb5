// Socket addresses and "HOST:PORT" text, without any libuv type in sight.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "reactor/Error.hpp"

namespace reactor {

/// "HOST:PORT" as a user writes it: "127.0.0.1:8443", "[::1]:8443", "localhost:80".
struct HostPort {
  std::string host;   ///< without brackets
  uint16_t port = 0;  ///< host byte order; 0 only in a default-constructed value

  /// Accepts "HOST:PORT" and "[V6]:PORT"; nullopt for anything else (no port, port > 65535).
  static std::optional<HostPort> parse(std::string_view text);
  std::string to_string() const;  ///< brackets around IPv6 literals
};

/// An IPv4 or IPv6 socket address. Value type; copyable.
class Address {
 public:
  Address() = default;
  /// nullopt unless `ip` is a numeric IPv4/IPv6 literal.
  static std::optional<Address> from_ip(std::string_view ip, uint16_t port);
  /// Copies an AF_INET or AF_INET6 address (what accept() or getpeername() filled in); any other
  /// family gives an invalid Address. Takes no ownership of `sa`.
  static Address from_sockaddr(const sockaddr* sa);
  /// Resolves a HOST:PORT for binding (blocking getaddrinfo; for start-up, not the loop).
  static Address resolve_for_listen(const HostPort& hp, Error& error);

  /// False for a default-constructed Address (and one made from another family): nothing bound or
  /// connected has it.
  bool valid() const noexcept {
    return storage_.sin6_family == AF_INET || storage_.sin6_family == AF_INET6;
  }
  /// AF_INET or AF_INET6 (0 when not valid()).
  int family() const noexcept { return storage_.sin6_family; }
  /// Host byte order.
  uint16_t port() const noexcept;
  std::string ip() const;         ///< "127.0.0.1", "::1"
  std::string to_string() const;  ///< "127.0.0.1:80", "[::1]:80"
  /// For the socket calls that take a sockaddr (with sockaddr_len()); valid as long as this
  /// Address.
  const sockaddr* sockaddr_ptr() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage_);
  }
  /// The size of the family's sockaddr (sockaddr_in or sockaddr_in6), 0 when not valid().
  socklen_t sockaddr_len() const noexcept;

 private:
  /// Large enough for either family (sockaddr_in is the smaller, its family field at the same
  /// place); a sockaddr_storage would be 128 bytes in every connection.
  sockaddr_in6 storage_{};
};

}  // namespace reactor
