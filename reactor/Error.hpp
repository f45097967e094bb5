// Errors that reach handlers: an error_code (libuv/errno, the reactor's or the TLS layer's own
// condition), what we were doing, and optionally the specific reason, so that a message reads
// "connect 127.0.0.1:9: connection refused" or
// "handshake: certificate verify failed: hostname mismatch".
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace reactor {

/// Conditions the reactor itself detects; libuv failures use uv_category() instead.
enum class Errc {
  idle_timeout = 1,
  connect_timeout,
  close_timeout,
  loop_closed,
  server_stopped,
  aborted,
  bad_address,
  resolve_failed,
  handler_failed,
  write_queue_full,
};

const std::error_category& reactor_category() noexcept;
/// libuv status codes (negative errno values on Unix) with libuv's own wording.
const std::error_category& uv_category() noexcept;

std::error_code make_error_code(Errc e) noexcept;
/// Maps a negative libuv status to an error_code in uv_category().
std::error_code uv_error(int status) noexcept;

/// Empty (false) means success. Cheap to copy; valid after the connection is gone.
class Error {
 public:
  Error() = default;
  /// A failure: `code` says what, `context` what we were doing, `detail` anything the code
  /// cannot (an OpenSSL reason, a file position). A default-constructed Error is success.
  Error(std::error_code code, std::string context, std::string detail = {})
      : code_(code), context_(std::move(context)), detail_(std::move(detail)) {}

  /// True when this is an error (the opposite of Result's test).
  explicit operator bool() const noexcept { return static_cast<bool>(code_); }
  /// What went wrong, as a value to compare with an Errc or errno (`code() == Errc::timed_out`).
  const std::error_code& code() const noexcept { return code_; }
  /// What we were doing ("connect to 10.0.0.2:443", "load cert.pem"): the start of message().
  const std::string& context() const noexcept { return context_; }
  /// What the code cannot say (an OpenSSL reason string, FILE:LINE), or "": the end of message().
  const std::string& detail() const noexcept { return detail_; }
  /// "context: reason: detail" (context and detail when present), or "" for success. Inline, so
  /// that the TLS engine's library (which does not link the reactor) can use Error too.
  std::string message() const {
    if (!code_) return {};
    std::string text = context_.empty() ? code_.message() : context_ + ": " + code_.message();
    if (!detail_.empty()) text += ": " + detail_;
    return text;
  }

 private:
  std::error_code code_;
  std::string context_;
  std::string detail_;
};

/// What a fallible call that produces a value returns (the project's one error convention,
/// docs/errors.md): the value, or the Error saying why there is none. Like std::expected (C++23):
/// true when it holds a value, which is the opposite of Error's own test.
template <typename T>
class Result {
 public:
  /// Success: holds `value`. Implicit, so a function returning Result<T> can `return value;`.
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  /// `error` must be set: a Result without a value says why.
  Result(Error error) : error_(std::move(error)) { assert(error_); }  // NOLINT

  /// True when it holds a value (then error() is empty).
  ///@{
  explicit operator bool() const noexcept { return value_.has_value(); }
  bool has_value() const noexcept { return value_.has_value(); }
  ///@}
  /// The value; only when has_value() (as std::optional's, unchecked). References live as long
  /// as this Result; the rvalue forms move the value out.
  ///@{
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  ///@}
  /// Empty when has_value().
  const Error& error() const noexcept { return error_; }

 private:
  std::optional<T> value_;
  Error error_;
};

}  // namespace reactor

/// @cond
// Makes `code == Errc::x` compile; std's, not API (and Doxygen cannot place it).
template <>
struct std::is_error_code_enum<reactor::Errc> : std::true_type {};
/// @endcond
