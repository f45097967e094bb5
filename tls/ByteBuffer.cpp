#include "tls/ByteBuffer.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <limits>

namespace tls {
namespace {

// The first allocation: a small TLS record or a handshake message fits; malloc serves sizes up
// to about 1 KiB from its per-thread cache.
constexpr std::size_t min_capacity = 1024;

BufferPair& of(BIO* bio) noexcept {
  return *static_cast<BufferPair*>(BIO_get_data(bio));
}

int bio_write(BIO* bio, const char* data, std::size_t len, std::size_t* written) {
  BIO_clear_retry_flags(bio);
  of(bio).output.append({reinterpret_cast<const std::byte*>(data), len});
  *written = len;
  return 1;
}

int bio_read(BIO* bio, char* out, std::size_t len, std::size_t* read) {
  BIO_clear_retry_flags(bio);
  ByteBuffer& buffer = of(bio).input;
  *read = buffer.take({reinterpret_cast<std::byte*>(out), len});
  if (*read > 0) return 1;
  // Nothing yet is not the end of the stream, unless the transport said so.
  if (!buffer.eof()) BIO_set_retry_read(bio);
  return 0;
}

long bio_ctrl(BIO* bio, int cmd, long num, void*) {
  const ByteBuffer& buffer = of(bio).input;
  switch (cmd) {
    case BIO_CTRL_PENDING:
      return static_cast<long>(std::min<std::size_t>(buffer.size(), LONG_MAX));
    case BIO_CTRL_EOF:
      return buffer.eof() && buffer.empty() ? 1 : 0;
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DUP:
      return 1;
    case BIO_CTRL_GET_CLOSE:
      return BIO_get_shutdown(bio);
    case BIO_CTRL_SET_CLOSE:
      BIO_set_shutdown(bio, static_cast<int>(num));
      return 1;
    default:  // WPENDING (nothing is ever held back) and everything a socket BIO would know
      return 0;
  }
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int bio_destroy(BIO* bio) {
  BIO_set_data(bio, nullptr);
  return 1;
}

const BIO_METHOD* method() {
  // One immutable method table for the process, made on first use (thread-safe static) and
  // kept until exit: an SSL freed during static destruction may still reach it.
  static BIO_METHOD* const table = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tlsreactor buffer");
    if (m == nullptr) return m;
    BIO_meth_set_write_ex(m, &bio_write);
    BIO_meth_set_read_ex(m, &bio_read);
    BIO_meth_set_ctrl(m, &bio_ctrl);
    BIO_meth_set_create(m, &bio_create);
    BIO_meth_set_destroy(m, &bio_destroy);
    return m;
  }();
  return table;
}

}  // namespace

void ByteBuffer::append(std::span<const std::byte> bytes) {
  const std::size_t n = bytes.size();
  if (n == 0) return;
  if (capacity_ - end_ < n) make_room(n, std::max(size() + n, capacity_ * 2));
  std::memcpy(storage_.get() + end_, bytes.data(), n);
  end_ += n;
}

void ByteBuffer::reserve(std::size_t extra) {
  if (capacity_ - end_ < extra) make_room(extra, size() + extra);
}

void ByteBuffer::make_room(std::size_t n, std::size_t grown) {
  const std::size_t held = size();
  if (held + n <= capacity_ / 2 + capacity_ / 4) {
    // Mostly consumed already: slide what is left to the front instead of growing.
    std::memmove(storage_.get(), storage_.get() + begin_, held);
  } else {
    grown = std::max(grown, min_capacity);
    auto bigger = std::make_unique_for_overwrite<std::byte[]>(grown);
    if (held > 0) std::memcpy(bigger.get(), storage_.get() + begin_, held);
    storage_ = std::move(bigger);
    capacity_ = grown;
  }
  begin_ = 0;
  end_ = held;
}

void ByteBuffer::consume(std::size_t n) noexcept {
  begin_ += std::min(n, size());
  if (begin_ == end_) begin_ = end_ = 0;
}

std::size_t ByteBuffer::take(std::span<std::byte> into) noexcept {
  const std::size_t n = std::min(into.size(), size());
  if (n > 0) std::memcpy(into.data(), storage_.get() + begin_, n);
  consume(n);
  return n;
}

void ByteBuffer::release_if_empty(std::size_t keep) noexcept {
  if (!empty() || capacity_ <= keep) return;
  storage_.reset();
  capacity_ = begin_ = end_ = 0;
}

BIO* buffer_bio(BufferPair& buffers) {
  const BIO_METHOD* m = method();
  BIO* bio = m != nullptr ? BIO_new(m) : nullptr;
  if (bio != nullptr) BIO_set_data(bio, &buffers);
  return bio;
}

}  // namespace tls
