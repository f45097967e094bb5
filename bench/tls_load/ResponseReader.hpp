// Follows one HTTP/1.1 response as its bytes arrive, far enough to know where it ends: the
// status, then Content-Length bytes of body, or everything until the server closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace bench::tls_load {

class ResponseReader {
 public:
  enum class State { head, body, complete, bad };

  // Ready for the next response; keeps the head buffer's capacity.
  void reset();
  // Takes the next bytes of the stream; bytes past the end of the response are ignored.
  State feed(std::span<const char> bytes);
  // The server closed the stream: a response without Content-Length ends here.
  State on_close();

  State state() const { return state_; }
  // Why the state is `bad` (a sentence fragment for an error line).
  const std::string& problem() const { return problem_; }
  bool has_length() const { return length_ >= 0; }

 private:
  State parse_head();
  State fail(std::string problem);

  static constexpr std::size_t max_head = 16 * 1024;
  State state_ = State::head;
  std::string head_;
  std::int64_t length_ = -1;  // -1: until close
  std::int64_t body_seen_ = 0;
  std::string problem_;
};

}  // namespace bench::tls_load
