// Writing a chunked body (RFC 9112 7.1): each chunk is its size in hex, CRLF, the data, CRLF;
// the last is "0", optional trailer fields, CRLF.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace apps::http {

// Appends a chunk's size line ("1a\r\n"). The caller sends `size` bytes and then "\r\n": the
// way to frame a large chunk without copying its data.
void append_chunk_size(std::string& out, std::size_t size);

// Appends a whole chunk: size line, `data`, CRLF. `data` must not be empty (an empty chunk
// ends the body).
void append_chunk(std::string& out, std::string_view data);

// Appends the last chunk with `trailers` (complete "Name: value\r\n" lines, or empty).
void append_last_chunk(std::string& out, std::string_view trailers);

}  // namespace apps::http
