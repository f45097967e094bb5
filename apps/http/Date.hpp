// The Date header's value (RFC 9110 5.6.7 IMF-fixdate).
#pragma once

#include <string>

namespace apps::http {

// Now, as "Sun, 06 Nov 1994 08:49:37 GMT". Formatted at most once a second per thread: the
// reference stays valid on the calling thread and its text changes when the second does.
const std::string& http_date();

}  // namespace apps::http
