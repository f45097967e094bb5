#include "apps/http/Chunked.hpp"

#include <charconv>

namespace apps::http {

void append_chunk_size(std::string& out, std::size_t size) {
  char digits[2 * sizeof(std::size_t)];
  const auto end = std::to_chars(digits, digits + sizeof digits, size, 16).ptr;
  out.append(digits, end).append("\r\n");
}

void append_chunk(std::string& out, std::string_view data) {
  append_chunk_size(out, data.size());
  out.append(data).append("\r\n");
}

void append_last_chunk(std::string& out, std::string_view trailers) {
  out.append("0\r\n").append(trailers).append("\r\n");
}

}  // namespace apps::http
