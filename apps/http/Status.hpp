// Reason phrases for the status codes the apps send (RFC 9110 15), in one table.
#pragma once

#include <string_view>

namespace apps::http {

// "Bad Gateway" for 502, ...; "Unknown" for a code not in the table. The phrase is advisory
// (clients ignore it), so an unknown one is harmless.
std::string_view reason_phrase(int status);

}  // namespace apps::http
