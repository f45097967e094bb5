// tls::ByteBuffer: bytes appended at the back and taken from the front, whose storage is given
// back as soon as it is drained (release()), so a connection that is idle holds none. A
// BIO_s_mem, by contrast, keeps the capacity it once grew to: a handshake flight's worth per
// direction and connection.
//
// buffer_bio() puts a BIO in front of two: what OpenSSL writes to the BIO is appended to one,
// what it reads is taken from the other's front. The Engine uses it instead of memory BIOs.
#pragma once

#include <openssl/bio.h>

#include <cstddef>
#include <memory>
#include <span>

namespace tls {

/// Thread-safety: none (one per connection direction).
class ByteBuffer {
 public:
  /// Bytes held (appended and not consumed).
  std::size_t size() const noexcept { return end_ - begin_; }
  /// size() == 0.
  bool empty() const noexcept { return begin_ == end_; }
  /// Bytes of storage allocated (0 after release_if_empty freed it): what an idle connection costs.
  std::size_t capacity() const noexcept { return capacity_; }
  /// The bytes held, contiguous; valid until the next non-const call.
  std::span<const std::byte> data() const noexcept {
    return {storage_.get() + begin_, end_ - begin_};
  }
  /// Copies `bytes` after the held ones, growing the storage if needed; earlier data() spans are
  /// invalid after it.
  void append(std::span<const std::byte> bytes);
  /// Makes room for `extra` more bytes without moving them later (exactly that, not doubled).
  void reserve(std::size_t extra);
  /// Drops the first min(n, size()) bytes; storage stays for the next append.
  void consume(std::size_t n) noexcept;
  /// Copies up to into.size() bytes out of the front and consumes them; returns how many.
  std::size_t take(std::span<std::byte> into) noexcept;
  /// Frees the storage when nothing is held and it is larger than `keep` bytes (a connection
  /// that is busy keeps a small one for the next record rather than allocate it again).
  void release_if_empty(std::size_t keep = 0) noexcept;

  /// For a reading BIO: once set and drained, reads report the end of the stream instead of
  /// "retry later".
  void set_eof() noexcept { eof_ = true; }
  /// Whether set_eof() was called.
  bool eof() const noexcept { return eof_; }

 private:
  /// Room for n more bytes at the end: slides the held bytes to the front, or moves them to
  /// new storage of at least `grown` bytes.
  void make_room(std::size_t n, std::size_t grown);

  std::unique_ptr<std::byte[]> storage_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool eof_ = false;
};

/// Both directions of a connection's ciphertext: one BIO serves both (each BIO costs ~260 B
/// with its lock), reading from `input` and writing to `output`.
struct BufferPair {
  /// Ciphertext received from the peer, read by OpenSSL.
  ByteBuffer input;
  /// Ciphertext OpenSSL wrote, for the transport to send.
  ByteBuffer output;
};

/// A new BIO over `buffers`, which must outlive it; the caller (or the SSL it is given to) owns
/// the BIO. Reading an empty input asks for a retry (or reports EOF after set_eof()); writing
/// always succeeds. The BIO never frees the buffers' storage: their owner decides when.
BIO* buffer_bio(BufferPair& buffers);

}  // namespace tls
