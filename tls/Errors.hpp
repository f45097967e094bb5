// The TLS layer's error conditions, and a drain of OpenSSL's per-thread error queue into text.
// OpenSSL only: no libuv, no reactor.
#pragma once

#include <string>
#include <system_error>
#include <vector>

namespace tls {

enum class Errc {
  config = 1,           // a Context could not be built (bad file, key does not match, ...)
  handshake_failed,     // the handshake failed (protocol, no shared cipher, alert received, ...)
  verify_failed,        // the peer's certificate did not verify (detail says why)
  protocol_error,       // a TLS protocol failure after the handshake
  stream_truncated,     // the transport ended without close_notify
  handshake_timeout,    // the handshake did not finish in time
  unrecognized_name,    // strict SNI: no certificate for the requested name
  internal,             // an SSL_get_error result that cannot happen over the engine's BIO
  renegotiation_limit,  // the peer started more renegotiations per minute than allowed
  key_update_limit,     // the peer sent more KeyUpdates per minute than allowed
};

const std::error_category& tls_category() noexcept;
std::error_code make_error_code(Errc e) noexcept;

/// One entry of OpenSSL's error queue.
struct QueuedError {
  unsigned long code = 0;  ///< ERR_get_error()'s packed code (ERR_GET_LIB, ERR_GET_REASON)
  std::string library;     ///< "SSL routines"
  std::string reason;      ///< "certificate verify failed"
  std::string text;        ///< ERR_error_string_n's full line
};

/// Pops every entry of this thread's OpenSSL error queue, oldest first.
std::vector<QueuedError> drain_error_queue();
/// The reason of the last (most specific) entry, or `fallback` when the queue was empty.
std::string last_reason(const std::vector<QueuedError>& queue, const std::string& fallback);

}  // namespace tls

/// @cond
// Makes `code == Errc::x` compile; std's, not API (and Doxygen cannot place it).
template <>
struct std::is_error_code_enum<tls::Errc> : std::true_type {};
/// @endcond
