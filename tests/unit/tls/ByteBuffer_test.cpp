#include "tls/ByteBuffer.hpp"

#include <doctest/doctest.h>

#include <array>
#include <string>
#include <string_view>

#include "tls/Ptr.hpp"

namespace {

std::span<const std::byte> bytes(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

std::string text(std::span<const std::byte> data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

}  // namespace

TEST_CASE(
    "a byte buffer hands back what was appended, in order, and frees its storage once drained") {
  tls::ByteBuffer buffer;
  CHECK(buffer.capacity() == 0);
  buffer.append(bytes("hello "));
  buffer.append(bytes("world"));
  CHECK(text(buffer.data()) == "hello world");
  buffer.consume(6);
  CHECK(text(buffer.data()) == "world");
  buffer.release_if_empty();  // not empty: kept
  CHECK(buffer.capacity() > 0);
  std::array<std::byte, 3> out{};
  CHECK(buffer.take(out) == 3);
  CHECK(text(out) == "wor");
  CHECK(buffer.take(out) == 2);
  CHECK(buffer.empty());
  const std::size_t capacity = buffer.capacity();
  buffer.release_if_empty(capacity);  // small enough to keep for the next append
  CHECK(buffer.capacity() == capacity);
  buffer.release_if_empty(capacity - 1);
  CHECK(buffer.capacity() == 0);
}

TEST_CASE("a byte buffer grows past its first allocation and slides leftovers to the front") {
  tls::ByteBuffer buffer;
  std::string expected;
  for (int i = 0; i < 5000; ++i) {
    const std::string piece = std::to_string(i) + ",";
    buffer.append(bytes(piece));
    expected += piece;
    if (i % 7 == 0) {
      buffer.consume(3);
      expected.erase(0, 3);
    }
  }
  CHECK(text(buffer.data()) == expected);
}

TEST_CASE(
    "a buffer BIO reads what was written, asks for a retry when empty and reports EOF after set_eof") {
  tls::BufferPair buffers;
  tls::ByteBuffer& buffer = buffers.input;
  const tls::BioPtr bio(tls::buffer_bio(buffers));
  REQUIRE(bio != nullptr);
  CHECK(BIO_write(bio.get(), "xyz", 3) == 3);
  CHECK(text(buffers.output.data()) == "xyz");
  CHECK(BIO_ctrl_pending(bio.get()) == 0);  // pending is what can be read
  buffer.append(bytes("abc"));
  CHECK(BIO_ctrl_pending(bio.get()) == 3);
  std::array<char, 8> out{};
  CHECK(BIO_read(bio.get(), out.data(), static_cast<int>(out.size())) == 3);
  CHECK(std::string_view(out.data(), 3) == "abc");
  CHECK(BIO_read(bio.get(), out.data(), static_cast<int>(out.size())) <= 0);
  CHECK(BIO_should_retry(bio.get()));
  CHECK(BIO_eof(bio.get()) == 0);
  buffer.set_eof();
  CHECK(BIO_read(bio.get(), out.data(), static_cast<int>(out.size())) == 0);
  CHECK_FALSE(BIO_should_retry(bio.get()));
  CHECK(BIO_eof(bio.get()) == 1);
}
