#include "tls/Errors.hpp"

#include <openssl/err.h>

#include <array>

namespace tls {
namespace {

class TlsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::config:
        return "bad TLS configuration";
      case Errc::handshake_failed:
        return "handshake failed";
      case Errc::verify_failed:
        return "certificate verify failed";
      case Errc::protocol_error:
        return "TLS protocol error";
      case Errc::stream_truncated:
        return "stream truncated: the peer closed without close_notify";
      case Errc::handshake_timeout:
        return "handshake timed out";
      case Errc::unrecognized_name:
        return "no certificate for the requested server name";
      case Errc::internal:
        return "internal TLS error";
      case Errc::renegotiation_limit:
        return "too many renegotiations from the peer";
      case Errc::key_update_limit:
        return "too many KeyUpdates from the peer";
    }
    return "unknown TLS error";
  }
};

// ERR_reason_error_string() has no text for system errors (it would need a buffer to be thread
// safe), so the errno goes through the standard library's thread-safe strerror instead.
std::string reason_of(unsigned long code) {
  if (ERR_SYSTEM_ERROR(code)) {
    return std::error_code(ERR_GET_REASON(code), std::generic_category()).message();
  }
  if (const char* reason = ERR_reason_error_string(code)) return reason;
  return "reason(" + std::to_string(ERR_GET_REASON(code)) + ")";
}

}  // namespace

const std::error_category& tls_category() noexcept {
  static const TlsCategory category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), tls_category()};
}

std::vector<QueuedError> drain_error_queue() {
  std::vector<QueuedError> queue;
  const char* data = nullptr;
  int flags = 0;
  while (const unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    QueuedError entry;
    entry.code = code;
    if (const char* library = ERR_lib_error_string(code)) entry.library = library;
    entry.reason = reason_of(code);
    std::array<char, 256> line{};
    ERR_error_string_n(code, line.data(), line.size());
    entry.text = line.data();
    // The attached data is often the most useful part ("calling fopen(/x, r)", "Expecting: ...").
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
      entry.text += ':';
      entry.text += data;
    }
    queue.push_back(std::move(entry));
  }
  return queue;
}

std::string last_reason(const std::vector<QueuedError>& queue, const std::string& fallback) {
  return queue.empty() ? fallback : queue.back().reason;
}

}  // namespace tls
