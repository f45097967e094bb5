// Time as HTTP messages and their error answers write it: the Date header's value (RFC 9110
// 5.6.7 IMF-fixdate), and a timeout's length in the one-line reasons ("2.5 s").
#pragma once

#include <chrono>
#include <string>

namespace apps::http {

// Now, as "Sun, 06 Nov 1994 08:49:37 GMT". Formatted at most once a second per thread: the
// reference stays valid on the calling thread and its text changes when the second does.
const std::string& http_date();

// "10 s", "2.5 s": a timeout to the tenth of a second, for messages that name one.
std::string seconds_text(std::chrono::milliseconds ms);

}  // namespace apps::http
