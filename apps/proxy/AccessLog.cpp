#include "apps/proxy/AccessLog.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

#include "reactor/Log.hpp"

namespace apps::proxy {
namespace {

void append_number(std::string& out, std::uint64_t value) {
  char digits[24];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
}

void append_ms(std::string& out, double value) {
  char digits[32];
  out.append(digits,
             std::to_chars(digits, digits + sizeof digits, value, std::chars_format::fixed, 3).ptr);
}

// The length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one.
std::size_t utf8_sequence(std::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  std::size_t n = 0;
  unsigned min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  unsigned code = b0 & (0x7F >> n);
  for (std::size_t i = 1; i < n; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xC0) != 0x80) return 0;
    code = (code << 6) | (b & 0x3F);
  }
  const bool surrogate = code >= 0xD800 && code <= 0xDFFF;
  return code >= min && code <= 0x10FFFF && !surrogate ? n : 0;
}

// A JSON string: quotes, backslashes and control characters escaped; bytes that are not UTF-8
// (a request target may hold anything) become U+FFFD so the line stays valid JSON.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  while (!s.empty()) {
    const auto c = static_cast<unsigned char>(s[0]);
    std::size_t used = 1;
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (c < 0x20 || c == 0x7F) {
      out.append("\\u00").push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (const std::size_t n = utf8_sequence(s); n != 0) {
      out.append(s.substr(0, n));
      used = n;
    } else {
      out.append("\\ufffd");
    }
    s.remove_prefix(used);
  }
  out.push_back('"');
}

// A text field: "-" when empty; bytes that would break the line or its quoting are escaped
// as \xHH (nginx's escaping).
void append_text(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  if (s.empty()) {
    out.push_back('-');
    return;
  }
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') {
      out.append("\\x").push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(ch);
    }
  }
}

void text_line(std::string& out, const AccessRecord& r, std::string_view time) {
  const auto text = [&out](std::string_view label, std::string_view value) {
    append_text(out.append(label), value);
  };
  const auto number = [&out](std::string_view label, std::uint64_t value) {
    append_number(out.append(label), value);
  };
  const auto ms = [&out](std::string_view label, double value) {
    append_ms(out.append(label), value);
  };
  out.append(time);
  text(" ", r.client);
  text(" \"", r.method);
  text(" ", r.target);
  number("\" ", static_cast<std::uint64_t>(r.status));
  number(" ", r.bytes_in);
  number(" ", r.bytes_out);
  text(" upstream=", r.upstream);
  ms(" upstream_ms=", r.upstream_ms);
  ms(" total_ms=", r.total_ms);
  text(" tls=", r.tls_version);
  text(" cipher=", r.cipher);
  text(" sni=", r.sni);
  text(" alpn=", r.alpn);
  out.append(r.resumed ? " resumed=1" : " resumed=0");
  ms(" handshake_ms=", r.handshake_ms);
  text(" protocol=", r.protocol);
  number(" stream=", r.stream);
  text(" host=", r.host);
  // Quoted: a User-Agent has blanks (a quote inside is escaped).
  text(" user_agent=\"", r.user_agent);
  text("\" request_id=", r.request_id);
  text(" traceparent=", r.traceparent);
  out.push_back('\n');
}

void json_line(std::string& out, const AccessRecord& r, std::string_view time) {
  bool first = true;
  const auto key = [&out, &first](std::string_view name) {
    out.append(first ? "{\"" : ",\"").append(name).append("\":");
    first = false;
  };
  const auto string = [&](std::string_view name, std::string_view value) {
    key(name);
    append_json_string(out, value);
  };
  string("time", time);
  string("client", r.client);
  string("sni", r.sni);
  string("alpn", r.alpn);
  string("tls_version", r.tls_version);
  string("cipher", r.cipher);
  key("resumed");
  out.append(r.resumed ? "true" : "false");
  key("handshake_ms");
  append_ms(out, r.handshake_ms);
  string("method", r.method);
  string("target", r.target);
  key("status");
  append_number(out, static_cast<std::uint64_t>(r.status));
  key("bytes_in");
  append_number(out, r.bytes_in);
  key("bytes_out");
  append_number(out, r.bytes_out);
  string("upstream", r.upstream);
  key("upstream_ms");
  append_ms(out, r.upstream_ms);
  key("total_ms");
  append_ms(out, r.total_ms);
  string("protocol", r.protocol);
  key("stream");
  append_number(out, r.stream);
  string("host", r.host);
  string("user_agent", r.user_agent);
  string("request_id", r.request_id);
  string("traceparent", r.traceparent);
  out.append("}\n");
}

void append_line(std::string& out, const AccessRecord& record, AccessLogFormat format,
                 std::string_view time) {
  if (format == AccessLogFormat::json)
    json_line(out, record, time);
  else
    text_line(out, record, time);
}

}  // namespace

namespace {

// The log file at `path` for appending, or -1 with `error` set.
int open_for_append(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) error = "access log " + path + ": " + std::strerror(errno);
  return fd;
}

}  // namespace

std::unique_ptr<AccessLog> AccessLog::open(const std::string& path, AccessLogFormat format,
                                           std::string& error) {
  if (path == "-") return std::make_unique<AccessLog>(STDOUT_FILENO, false, format);
  const int fd = open_for_append(path, error);
  if (fd < 0) return nullptr;
  auto log = std::make_unique<AccessLog>(fd, true, format);
  log->path_ = path;
  return log;
}

bool AccessLog::reopen(std::string& error) {
  if (!owned_) return true;
  const int fd = open_for_append(path_, error);
  if (fd < 0) return false;
  // dup2 closes the old file and puts the new one in its place in one step (it drops
  // close-on-exec, set again after).
  int rc;
  do {
    rc = ::dup2(fd, fd_);
  } while (rc < 0 && errno == EINTR);
  const int saved = errno;
  ::close(fd);
  if (rc >= 0) ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
  if (rc < 0) {
    error = "access log " + path_ + ": " + std::strerror(saved);
    return false;
  }
  return true;
}

AccessLog::AccessLog(int fd, bool owned, AccessLogFormat format)
    : fd_(fd), owned_(owned), format_(format) {}

AccessLog::~AccessLog() {
  if (owned_) ::close(fd_);
}

std::string AccessLog::format(const AccessRecord& record, AccessLogFormat format,
                              std::string_view time) {
  std::string line;
  append_line(line, record, format, time);
  return line;
}

void AccessLog::write(const AccessRecord& record) {
  // Formatted in a buffer of the calling thread, which keeps its capacity: no allocation per
  // request once the longest line has been seen.
  thread_local std::string line;
  thread_local std::string time;
  line.clear();
  time.clear();
  reactor::log::append_timestamp(time);
  append_line(line, record, format_, time);
  // One write per line: O_APPEND (and a pipe for lines under PIPE_BUF) keeps lines from
  // several loops whole. A full disk or a closed stdout loses the line, never the request.
  ssize_t n;
  do {
    n = ::write(fd_, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
}

}  // namespace apps::proxy
