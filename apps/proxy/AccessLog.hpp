// One line per proxied request, as text or as JSON lines, the fields nginx/Envoy users grep
// for. Writing is thread-safe: a line is formatted on the caller's loop and handed to the
// file in one write, so lines from several loops never interleave.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace apps::proxy {

struct AccessRecord {
  std::string client;       // "203.0.113.7:51234" (the PROXY protocol's address when trusted)
  std::string sni;          // "" without SNI
  std::string alpn;         // "" when none was agreed
  std::string tls_version;  // "TLSv1.3"; "" over plain TCP
  std::string cipher;
  bool resumed = false;
  double handshake_ms = 0;
  std::string protocol;      // "HTTP/1.1" ("HTTP/1.0" as the client said), "HTTP/2"
  std::uint32_t stream = 0;  // the HTTP/2 stream id; 0 over HTTP/1.x
  std::string method;
  std::string target;
  std::string host;             // Host (HTTP/2: :authority) as the client sent it; "" without
  std::string user_agent;       // "" without
  std::string request_id;       // X-Request-Id as sent upstream (kept or made by the proxy)
  std::string traceparent;      // the W3C traceparent passed on; "" when none (or dropped)
  int status = 0;               // 0: the client went away before any response
  std::uint64_t bytes_in = 0;   // request bytes from the client (head and body)
  std::uint64_t bytes_out = 0;  // response bytes to the client (head and body)
  std::string upstream;         // "http://127.0.0.1:8081"; "" when none was reached
  double upstream_ms = 0;       // from sending the request to the end of the response
  double total_ms = 0;          // from the first byte of the request to the end of the response
};

enum class AccessLogFormat { text, json };

class AccessLog {
 public:
  // `path` "-" is stdout. Returns nullptr with `error` set when the file cannot be opened.
  static std::unique_ptr<AccessLog> open(const std::string& path, AccessLogFormat format,
                                         std::string& error);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Use open(); public so that open() needs no raw new.
  AccessLog(int fd, bool owned, AccessLogFormat format);

  void write(const AccessRecord& record);

  // Opens the log's path anew (logrotate renamed the file, then sent SIGUSR1): later lines go
  // to the file now at the path, lines already written stay where they are. The new file takes
  // the old one's descriptor number (dup2), so a write() racing on another loop lands whole in
  // the old file or the new one, never on a closed or reused descriptor. Stdout is left as is.
  // Any thread. False with `error` set when the path cannot be opened: the old file stays.
  bool reopen(std::string& error);

  // The line for `record` stamped `time` (write() stamps the current time, as
  // reactor::log::append_timestamp writes it), newline included.
  static std::string format(const AccessRecord& record, AccessLogFormat format,
                            std::string_view time);

 private:
  int fd_;
  bool owned_;
  std::string path_;  // as opened; empty for stdout
  AccessLogFormat format_;
};

}  // namespace apps::proxy
