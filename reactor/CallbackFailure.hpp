// What an application callback threw, turned into the project's Error or a log line: the one
// wording for every libuv callback that catches (a connection's handler, a timer, a poll, a
// signal, a posted function, a deadline) so that no exception crosses into C.
#pragma once

#include <string_view>

#include "reactor/Error.hpp"

namespace reactor {

// The Error a connection ends with when its handler threw: Errc::handler_failed, with the
// exception's what() (or "unknown exception") as context. Call only inside a catch block (it
// looks at the exception being handled); any thread.
Error handler_failure() noexcept;

// Logs, as an error, that `what` (e.g. "a timer's callback") threw, with the exception's what().
// For callbacks that belong to no connection: the loop carries on. Call only inside a catch
// block; any thread.
void log_callback_failure(std::string_view what) noexcept;

}  // namespace reactor
