#include "reactor/Address.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <charconv>
#include <cstring>
#include <memory>

namespace reactor {

std::optional<HostPort> HostPort::parse(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    // A bare IPv6 literal has several colons and must be bracketed to carry a port.
    if (host.find(':') != std::string_view::npos) return std::nullopt;
  }
  if (host.empty() || port.empty()) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535) return std::nullopt;
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

std::string HostPort::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<Address> Address::from_ip(std::string_view ip, uint16_t port) {
  const std::string text(ip);
  Address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return a;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return a;
  }
  return std::nullopt;
}

Address Address::from_sockaddr(const sockaddr* sa) {
  Address a;
  if (sa == nullptr) return a;
  if (sa->sa_family == AF_INET) std::memcpy(&a.storage_, sa, sizeof(sockaddr_in));
  if (sa->sa_family == AF_INET6) std::memcpy(&a.storage_, sa, sizeof(sockaddr_in6));
  return a;
}

Address Address::resolve_for_listen(const HostPort& hp, Error& error) {
  if (auto literal = from_ip(hp.host, hp.port)) return *literal;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG;
  addrinfo* raw = nullptr;
  const std::string service = std::to_string(hp.port);
  if (getaddrinfo(hp.host.c_str(), service.c_str(), &hints, &raw) != 0 || raw == nullptr) {
    error = Error(Errc::resolve_failed, "resolve " + hp.host);
    return {};
  }
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(raw, &freeaddrinfo);
  // Prefer IPv4 for names like "localhost": it is what clients try first on most hosts.
  const addrinfo* pick = raw;
  for (const addrinfo* ai = raw; ai != nullptr; ai = ai->ai_next)
    if (ai->ai_family == AF_INET) {
      pick = ai;
      break;
    }
  return from_sockaddr(pick->ai_addr);
}

uint16_t Address::port() const noexcept {
  if (storage_.sin6_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (storage_.sin6_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string Address::ip() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (storage_.sin6_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
              sizeof text);
  else if (storage_.sin6_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text,
              sizeof text);
  return text;
}

std::string Address::to_string() const {
  if (!valid()) return "(none)";
  return HostPort{ip(), port()}.to_string();
}

socklen_t Address::sockaddr_len() const noexcept {
  return storage_.sin6_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace reactor
