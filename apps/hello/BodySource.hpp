// Where a streamed response body's bytes come from: the /bytes/N pattern, or a file under the
// --root directory. Neither holds a buffer of its own (see each), so a download in progress
// costs a connection next to nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

namespace apps::hello {

// Body bytes are produced and written this much at a time: one pread and, when the peer keeps
// up, one socket write per chunk, a quarter of the syscalls 64 KiB chunks make (server CPU per
// byte measured the same within noise). A slow reader's connection holds at most about its
// high-water mark plus one chunk.
inline constexpr std::size_t chunk_size = 256 * 1024;

// The body of /bytes/N: the byte at offset i (from 0) is static_cast<unsigned char>(i % 251).
// 251 is prime, so the pattern never lines up with power-of-two chunks or buffers: a chunk
// lost, repeated or reordered changes the content.
inline constexpr unsigned pattern_period = 251;
inline constexpr std::uint64_t max_pattern_bytes = std::uint64_t{1} << 40;  // 1 TiB

// Thread-safety: none; one per response, used on its loop's thread.
class BodySource {
 public:
  virtual ~BodySource() = default;
  // The next at most `max` (> 0) bytes, valid until the next call of any source on this thread
  // (Connection::write copies what it keeps); empty on failure.
  virtual std::span<const std::byte> next(std::size_t max) = 0;
};

// The pattern from offset 0.
std::unique_ptr<BodySource> pattern_body();

// A file body and its size.
struct FileBody {
  std::unique_ptr<BodySource> source;
  std::uint64_t size = 0;
};

// Segments of [A-Za-z0-9._-], none empty or starting with '.': no "..", no hidden files, no
// percent-encoding to decode, so what the caller checks is exactly what open_under opens.
bool safe_relative_path(std::string_view path);

// root/relative (`relative` passed safe_relative_path; `root` canonical) if it is a regular
// file that, after resolving every symlink, is still inside root; a null source otherwise.
FileBody open_under(const std::filesystem::path& root, std::string_view relative);

}  // namespace apps::hello
