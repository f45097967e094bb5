#include "reactor/CallbackFailure.hpp"

#include <exception>
#include <string>

#include "reactor/Log.hpp"

namespace reactor {
namespace {

// The exception being handled, described; "" when it is not a std::exception.
std::string current_what() noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    try {
      return e.what();
    } catch (...) {
      return {};
    }
  } catch (...) {
    return {};
  }
}

}  // namespace

Error handler_failure() noexcept {
  std::string what = current_what();
  try {
    return Error(Errc::handler_failed, what.empty() ? "unknown exception" : std::move(what));
  } catch (...) {
    return Error(Errc::handler_failed, std::string());  // out of memory: the code still tells
  }
}

void log_callback_failure(std::string_view what) noexcept {
  const std::string reason = current_what();
  try {
    log::error(std::string(what) + " threw" +
               (reason.empty() ? std::string(" a non-standard exception") : ": " + reason));
  } catch (...) {
    log::error("a callback threw");
  }
}

}  // namespace reactor
