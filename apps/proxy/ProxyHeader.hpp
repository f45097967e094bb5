// The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a load balancer puts in
// front of a TCP stream to say who the real client is. An incremental parser: bytes go in as
// they arrive, and it says when the header is complete and how much of the input it took; the
// bytes after it belong to the stream (for us, the client's TLS handshake).
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "reactor/Address.hpp"

namespace apps::proxy {

struct ProxyHeader {
  int version = 0;  // 1 or 2
  // True for v2 LOCAL, v1 UNKNOWN and address families we cannot represent (v2 UNSPEC, UNIX):
  // the connection's own addresses stand (a balancer's health check, for instance).
  bool local = true;
  reactor::Address source;       // the original client (valid unless local)
  reactor::Address destination;  // the address the client connected to (valid unless local)
};

// Thread-safety: none; one parser per connection.
class ProxyHeaderParser {
 public:
  // v1: "PROXY TCP4|TCP6|UNKNOWN ...\r\n", at most 107 bytes with the CRLF (the spec's bound).
  static constexpr std::size_t v1_max_bytes = 107;
  // v2: the 16-byte fixed part plus addresses and TLVs. The spec allows 64 KiB; we refuse
  // more than `max_v2_bytes` in all, so a header cannot make us hold much memory.
  static constexpr std::size_t default_v2_max_bytes = 4096;

  enum class Status {
    incomplete,  // every byte taken; the header goes on in the next input
    complete,    // header() is valid; `consumed` bytes of this input were its end
    failed,      // error() says why; the connection should be closed
  };
  struct Result {
    Status status = Status::incomplete;
    std::size_t consumed = 0;  // bytes of this input that belong to the header
  };

  explicit ProxyHeaderParser(std::size_t max_v2_bytes = default_v2_max_bytes)
      : max_v2_bytes_(max_v2_bytes) {}

  // Takes bytes up to the end of the header. After `complete` or `failed`, takes nothing more.
  Result feed(std::span<const std::byte> bytes);

  // Bytes taken so far (0 before any input).
  std::size_t buffered() const noexcept { return buffer_.size(); }
  const ProxyHeader& header() const noexcept { return header_; }
  // "PROXY v1: 'TCP5' is not TCP4, TCP6 or UNKNOWN", "not a PROXY protocol header", ...
  const std::string& error() const noexcept { return error_; }

 private:
  bool step();  // after each byte: true once complete or failed
  bool parse_v1();
  bool parse_v2();
  bool fail(std::string reason);

  std::size_t max_v2_bytes_;
  std::string buffer_;
  std::size_t v2_total_ = 0;  // 16 + the length field, once known
  int version_ = 0;
  Status status_ = Status::incomplete;
  ProxyHeader header_;
  std::string error_;
};

}  // namespace apps::proxy
