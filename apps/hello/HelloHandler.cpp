#include "apps/hello/HelloHandler.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "apps/hello/RequestParser.hpp"
#include "reactor/TurnTicket.hpp"

namespace apps::hello {

namespace {

// Body bytes are produced and written this much at a time: one pread and, when the peer keeps
// up, one socket write per chunk, a quarter of the syscalls 64 KiB chunks make (server CPU per
// byte measured the same within noise). A slow reader's connection holds at most about its
// high-water mark plus one chunk.
constexpr std::size_t chunk_size = 256 * 1024;
// Chunks written per loop iteration, over all of a loop's connections (a reactor::TurnTicket
// budget, shared with the TLS handshake admission). A peer that reads as fast as we write never
// makes write() return false, so without it one download would keep the loop to itself until
// its last byte; with it, every iteration also serves the other connections' I/O.
constexpr std::size_t chunks_per_turn = 4;
// Unparsed input kept while a response is in flight; past it we stop reading, so a client that
// pipelines without reading its responses cannot make us buffer without bound.
constexpr std::size_t max_buffered_input = 64 * 1024;

// Where a streamed body's bytes come from.
class Body {
 public:
  virtual ~Body() = default;
  // The next at most `max` (> 0) bytes, valid until the next call of any body on this thread
  // (write() copies what it keeps); empty on failure.
  virtual std::span<const std::byte> next(std::size_t max) = 0;
};

// The /bytes/N pattern, served from one shared buffer: one chunk plus one period, so a chunk
// starting at any phase of the period is a contiguous slice of it.
class PatternBody final : public Body {
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

// A file read a chunk at a time into one buffer per loop thread, shared by every download on
// it: a streaming connection holds no chunk of its own. The reads block the loop thread; for a
// page-cache-warm test and benchmark server that costs less than a thread-pool hop, and it
// keeps this app small. (mmap measured no better here, and a file truncated while mapped would
// kill the server with SIGBUS.)
class FileBody final : public Body {
 public:
  explicit FileBody(int fd) : fd_(fd) {}
  ~FileBody() override { ::close(fd_); }
  FileBody(const FileBody&) = delete;
  FileBody& operator=(const FileBody&) = delete;

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

constexpr std::string_view hello_body = "hello from tlsreactor\n";

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

// RFC 9110 5.6.7 IMF-fixdate, formatted once a second per loop thread rather than per
// response. strftime's %a and %b are the C locale's, which is English.
const std::string& http_date() {
  thread_local std::time_t formatted_at = -1;
  thread_local std::string text;
  if (const std::time_t now = std::time(nullptr); now != formatted_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::array<char, 40> buffer{};
    text.assign(buffer.data(),
                std::strftime(buffer.data(), buffer.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm));
    formatted_at = now;
  }
  return text;
}

// Segments of [A-Za-z0-9._-], none empty or starting with '.': no "..", no hidden files, no
// percent-encoding to decode, so what we check is exactly what we open.
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

// Opens root/relative for reading if it is a regular file that, after resolving every symlink,
// is still inside root. Returns the descriptor and size, or -1.
int open_under(const std::filesystem::path& root, std::string_view relative, std::uint64_t& size) {
  std::error_code ec;
  const auto resolved = std::filesystem::canonical(root / relative, ec);
  if (ec) return -1;
  if (std::mismatch(root.begin(), root.end(), resolved.begin(), resolved.end()).first != root.end())
    return -1;
  // The resolved path has no symlinks left; O_NOFOLLOW refuses one swapped in since.
  const int fd = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -1;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return -1;
  }
  size = static_cast<std::uint64_t>(st.st_size);
  return fd;
}

// One connection: parses requests in order and answers each fully (queued) before parsing the
// next. States: idle (waiting for a request), streaming (body_ set), blocked (write() returned
// false: wait for on_drain before producing more), waiting for a turn (this loop iteration's
// chunk budget is spent: the ticket resumes the body in a later one).
class HelloHandler final : public reactor::Handler {
 public:
  explicit HelloHandler(std::shared_ptr<const HelloOptions> options)
      : options_(std::move(options)), turn_([this] { on_turn(); }) {}

  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override {
    const std::string_view received(reinterpret_cast<const char*>(data.data()), data.size());
    if (!in_.empty()) {
      in_.append(received);
      return advance(conn);
    }
    // The usual case, a whole request in one read: parse it where it lies and keep (copy) only
    // what is left of it, so an idle connection holds no input buffer.
    input_ = received;
    advance(conn);
  }
  void on_drain(reactor::Connection& conn) override {
    blocked_ = false;
    advance(conn);
  }
  // A peer that half-closes after its requests still gets every answer, then we close.
  void on_peer_closed(reactor::Connection& conn) override {
    peer_closed_ = true;
    advance(conn);
  }
  // Close at once when idle, else after the response in flight.
  void on_server_stopping(reactor::Connection& conn) override {
    stopping_ = true;
    advance(conn);
  }
  void on_close(reactor::Connection&, const reactor::Error&) override {
    turn_.cancel();
    conn_ = nullptr;
  }

 private:
  // The admitted chunk is counted already: it goes without asking again.
  void on_turn() {
    waiting_turn_ = false;
    turn_granted_ = true;
    if (conn_ != nullptr && !conn_->is_closing()) advance(*conn_);
  }

  // Serves from input_ (by default in_), then keeps what was not consumed in in_.
  void advance(reactor::Connection& conn) {
    conn_ = &conn;
    if (input_.data() == nullptr) input_ = in_;
    serve(conn);
    if (input_.data() == in_.data()) {
      in_.erase(0, in_pos_);
    } else if (in_pos_ < input_.size()) {
      in_.assign(input_.substr(in_pos_));
    }
    input_ = {};
    in_pos_ = 0;
    // An idle keep-alive connection should not keep what a partial request or a burst of
    // pipelining made it allocate.
    if (in_.empty()) std::string().swap(in_);
    if (conn.is_closing()) return;
    const bool pause = in_.size() > max_buffered_input;
    if (pause && !paused_) conn.pause_reading();
    if (!pause && paused_) conn.resume_reading();
    paused_ = pause;
  }

  void serve(reactor::Connection& conn) {
    while (!conn.is_closing() && !blocked_ && !waiting_turn_) {
      if (body_) {
        pump(conn);
        continue;
      }
      if (last_ || stopping_) return conn.close();
      std::size_t used = 0;
      const auto status = parser_.parse(input_.substr(in_pos_), used);
      in_pos_ += used;
      switch (status) {
        case RequestParser::Status::need_more:
          if (peer_closed_) conn.close();  // its last request can never complete
          return;
        case RequestParser::Status::failed: {
          last_ = true;  // framing is lost: nothing after this can be trusted
          const ParseError& e = parser_.error();
          reply(conn, e.status, std::string(e.reason) + "\n", false);
          break;
        }
        case RequestParser::Status::done:
          respond(conn, parser_.request());
          break;
      }
    }
  }

  void respond(reactor::Connection& conn, const Request& request) {
    last_ = !request.keep_alive;
    const bool head = request.method == "HEAD";
    const std::string_view path =
        std::string_view(request.target).substr(0, request.target.find('?'));
    std::uint64_t length = 0;
    if (request.method != "GET" && !head) {
      reply(conn, 405, "method not allowed\n", false, "Allow: GET, HEAD\r\n");
    } else if (path == "/" && !head && !last_) {
      write(conn, keep_alive_hello());
    } else if (path == "/") {
      reply(conn, 200, hello_body, head);
    } else if (path.starts_with("/bytes/") && parse_decimal(path.substr(7), length) &&
               length <= max_pattern_bytes) {
      stream(conn, std::make_unique<PatternBody>(), length, head);
    } else if (options_->root.empty() || !path.starts_with("/files/")) {
      reply(conn, 404, "not found\n", head);
    } else if (!safe_relative_path(path.substr(7))) {
      reply(conn, 400, "bad file name\n", head);
    } else if (const int fd = open_under(options_->root, path.substr(7), length); fd >= 0) {
      stream(conn, std::make_unique<FileBody>(fd), length, head);
    } else {
      reply(conn, 404, "not found\n", head);
    }
  }

  // The response head (and a small body) is assembled in one buffer per loop thread, reused
  // by every response: no allocation per request once it has grown. write() copies what it
  // keeps, and nothing it calls answers another request on this thread meanwhile.
  static std::string& response_buffer() {
    thread_local std::string buffer;
    buffer.clear();
    return buffer;
  }

  void append_head(std::string& out, int status, std::uint64_t length, std::string_view type,
                   std::string_view extra_headers) const {
    std::array<char, 24> digits{};
    const auto number = [&](std::uint64_t value) {
      const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr;
      return std::string_view(digits.data(), static_cast<std::size_t>(end - digits.data()));
    };
    out += "HTTP/1.1 ";
    out += number(static_cast<std::uint64_t>(status));
    out += ' ';
    out += reason_phrase(status);
    out += "\r\nServer: tlsreactor\r\nDate: ";
    out += http_date();
    out += "\r\nContent-Type: ";
    out += type;
    out += "\r\nContent-Length: ";
    out += number(length);
    out += "\r\n";
    out += extra_headers;
    out += last_ ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
  }

  // GET / on a keep-alive connection, the benchmark's request: the same bytes for a whole
  // second (the Date header's), so they are made once a second per loop thread.
  std::string_view keep_alive_hello() const {
    thread_local std::string date;
    thread_local std::string response;
    if (const std::string& now = http_date(); now != date) {
      date = now;
      response.clear();
      append_head(response, 200, hello_body.size(), "text/plain", {});
      response += hello_body;
    }
    return response;
  }

  // A small response in one write: head and, unless answering HEAD, the body.
  void reply(reactor::Connection& conn, int status, std::string_view body, bool head_only,
             std::string_view extra_headers = {}) {
    std::string& out = response_buffer();
    append_head(out, status, body.size(), "text/plain", extra_headers);
    if (!head_only) out += body;
    write(conn, out);
  }

  void stream(reactor::Connection& conn, std::unique_ptr<Body> body, std::uint64_t length,
              bool head_only) {
    std::string& out = response_buffer();
    append_head(out, 200, length, "application/octet-stream", {});
    write(conn, out);
    if (head_only || length == 0) return;
    body_ = std::move(body);
    body_left_ = length;
  }

  // Writes body chunks until the queue passes its high-water mark, the loop iteration's chunk
  // budget is spent or the body ends.
  void pump(reactor::Connection& conn) {
    while (body_left_ > 0 && !blocked_) {
      if (!std::exchange(turn_granted_, false) && !turn_.admit(conn.loop(), chunks_per_turn)) {
        waiting_turn_ = true;
        return;
      }
      const auto chunk =
          body_->next(static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, chunk_size)));
      if (chunk.empty()) return conn.abort();  // the promised Content-Length cannot be kept
      body_left_ -= chunk.size();
      write(conn, chunk);
    }
    if (body_left_ == 0) body_.reset();
  }

  void write(reactor::Connection& conn, std::span<const std::byte> bytes) {
    if (!conn.write(bytes)) blocked_ = true;
  }
  void write(reactor::Connection& conn, std::string_view text) {
    write(conn, std::as_bytes(std::span(text.data(), text.size())));
  }

  std::shared_ptr<const HelloOptions> options_;
  RequestParser parser_;
  std::string in_;          // received, not yet consumed by the parser (from in_pos_)
  std::string_view input_;  // what advance() serves from: in_, or a read parsed in place
  std::size_t in_pos_ = 0;
  std::unique_ptr<Body> body_;  // the response body being streamed, if any
  std::uint64_t body_left_ = 0;
  reactor::TurnTicket turn_;             // the next chunk's place in a later loop iteration
  reactor::Connection* conn_ = nullptr;  // for the ticket's callback; null after on_close
  bool blocked_ = false;                 // write() returned false; on_drain clears it
  bool waiting_turn_ = false;            // the ticket waits: the body resumes in a later iteration
  bool turn_granted_ = false;            // on_turn admitted the next chunk already
  bool last_ = false;                    // the response in flight is the connection's last
  bool paused_ = false;
  bool peer_closed_ = false;
  bool stopping_ = false;
};

}  // namespace

reactor::HandlerFactory hello_factory(const HelloOptions& options) {
  auto shared = std::make_shared<const HelloOptions>(options);
  return [shared] { return std::make_unique<HelloHandler>(shared); };
}

}  // namespace apps::hello
