#include "apps/hello/BodySource.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <system_error>

namespace apps::hello {

namespace {

// Served from one shared buffer of one chunk plus one period, so a chunk starting at any phase
// of the period is a contiguous slice of it.
class PatternBody final : public BodySource {
 public:
  std::span<const std::byte> next(std::size_t max) override {
    static const auto pattern = [] {
      std::array<std::byte, chunk_size + pattern_period> bytes{};
      for (std::size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<std::byte>(i % pattern_period);
      return bytes;
    }();
    const std::size_t length = std::min(max, chunk_size);
    const auto slice =
        std::span(pattern).subspan(static_cast<std::size_t>(offset_ % pattern_period), length);
    offset_ += length;
    return slice;
  }

 private:
  std::uint64_t offset_ = 0;
};

// Read a chunk at a time into one buffer per loop thread, shared by every download on it: a
// streaming connection holds no chunk of its own. The reads block the loop thread; for a
// page-cache-warm test and benchmark server that costs less than a thread-pool hop, and it
// keeps this app small. (mmap measured no better here, and a file truncated while mapped would
// kill the server with SIGBUS.)
class FileSource final : public BodySource {
 public:
  explicit FileSource(int fd) : fd_(fd) {}
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  std::span<const std::byte> next(std::size_t max) override {
    const std::size_t want = std::min(max, chunk_size);
    ssize_t n = -1;
    do {
      n = ::pread(fd_, buffer().data(), want, offset_);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return {};  // an error, or the file shrank below the Content-Length we sent
    offset_ += n;
    return buffer().first(static_cast<std::size_t>(n));
  }

 private:
  static std::span<std::byte> buffer() {
    thread_local const auto storage = std::make_unique_for_overwrite<std::byte[]>(chunk_size);
    return {storage.get(), chunk_size};
  }

  int fd_;
  off_t offset_ = 0;
};

}  // namespace

std::unique_ptr<BodySource> pattern_body() {
  return std::make_unique<PatternBody>();
}

bool safe_relative_path(std::string_view path) {
  while (true) {
    const auto slash = std::min(path.find('/'), path.size());
    const auto segment = path.substr(0, slash);
    if (segment.empty() || segment.front() == '.') return false;
    if (!std::all_of(segment.begin(), segment.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 c == '.' || c == '_' || c == '-';
        }))
      return false;
    if (slash == path.size()) return true;
    path.remove_prefix(slash + 1);
  }
}

FileBody open_under(const std::filesystem::path& root, std::string_view relative) {
  std::error_code ec;
  const auto resolved = std::filesystem::canonical(root / relative, ec);
  if (ec) return {};
  if (std::mismatch(root.begin(), root.end(), resolved.begin(), resolved.end()).first != root.end())
    return {};
  // The resolved path has no symlinks left; O_NOFOLLOW refuses one swapped in since.
  const int fd = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return {};
  auto source = std::make_unique<FileSource>(fd);  // owns fd from here
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return {};
  return {std::move(source), static_cast<std::uint64_t>(st.st_size)};
}

}  // namespace apps::hello
