#include "reactor/Error.hpp"

#include <uv.h>

namespace reactor {
namespace {

class ReactorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "reactor"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::idle_timeout:
        return "idle timeout";
      case Errc::connect_timeout:
        return "connection timed out";
      case Errc::close_timeout:
        return "peer did not finish closing in time";
      case Errc::loop_closed:
        return "event loop closed";
      case Errc::server_stopped:
        return "server stopped before the connection finished";
      case Errc::aborted:
        return "connection aborted";
      case Errc::bad_address:
        return "not a valid HOST:PORT";
      case Errc::resolve_failed:
        return "host name did not resolve";
      case Errc::handler_failed:
        return "the handler threw an exception";
      case Errc::write_queue_full:
        return "write queue over its limit (the peer does not read, the writer does not wait)";
    }
    return "unknown reactor error";
  }
};

class UvCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "libuv"; }
  std::string message(int value) const override { return uv_strerror(value); }
  // On Unix UV_ECONNREFUSED == -ECONNREFUSED, so std::errc comparisons work as users expect.
  // The getaddrinfo codes (UV_EAI_*, around -3000) have no errno and stay in this category.
  std::error_condition default_error_condition(int value) const noexcept override {
    const bool is_errno = value < 0 && value > UV_EAI_ADDRFAMILY;
    return is_errno ? std::error_condition(-value, std::generic_category())
                    : std::error_condition(value, *this);
  }
};

}  // namespace

const std::error_category& reactor_category() noexcept {
  static const ReactorCategory category;
  return category;
}

const std::error_category& uv_category() noexcept {
  static const UvCategory category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), reactor_category()};
}

std::error_code uv_error(int status) noexcept {
  return {status, uv_category()};
}

}  // namespace reactor
