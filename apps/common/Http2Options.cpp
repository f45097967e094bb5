#include "apps/common/Http2Options.hpp"

namespace apps {

std::vector<Args::Option> http2_options() {
  // {name, value, help, default, repeatable, restart_only}
  return {
      {"http2", "on|off",
       "offer HTTP/2: ALPN h2 over TLS, prior-knowledge h2c on plain listeners\n"
       "(nginx: listen ... http2 / http2 on)",
       "on", false, true},
      {"h2-max-concurrent-streams", "N",
       "HTTP/2 streams open at once per connection; more are refused (REFUSED_STREAM)\n"
       "(nginx: http2_max_concurrent_streams; HAProxy: tune.h2.max-concurrent-streams;\n"
       "Envoy: max_concurrent_streams)",
       "100"},
      {"h2-max-header-bytes", "N",
       "an HTTP/2 request's decoded header list (name + value + 32 per field), whatever\n"
       "HPACK squeezed it into; over it: 431. Default: the app's --max-header-bytes if it\n"
       "has one, else 32768 (nginx: large_client_header_buffers; HAProxy: tune.bufsize;\n"
       "Envoy: max_request_headers_kb)",
       ""},
      {"h2-stream-window", "BYTES",
       "each HTTP/2 stream's receive window: request body held for a consumer that has not\n"
       "taken it (nginx: http2_body_preread_size; HAProxy: tune.h2.initial-window-size;\n"
       "Envoy: initial_stream_window_size)",
       "65536"},
      {"h2-stream-buffer", "BYTES",
       "response bytes queued per HTTP/2 stream before its producer is paused (resumed at a\n"
       "quarter) (nginx: http2_chunk_size; Envoy: per_connection_buffer_limit_bytes)",
       "65536"},
      {"h2-output-buffer", "BYTES",
       "serialized HTTP/2 frames held per connection beyond the socket's queue\n"
       "(nginx: http2_recv_buffer_size; Envoy: max_outbound_frames)",
       "65536"},
      {"h2-reset-budget", "N",
       "rapid reset (CVE-2023-44487): streams a client may cancel beyond those it let finish;\n"
       "then GOAWAY ENHANCE_YOUR_CALM (HAProxy: tune.h2.fe.glitches-threshold;\n"
       "Envoy: overload manager; nginx 1.25.3: built in)",
       "200"},
      {"h2-flood-budget", "N",
       "HTTP/2 frames that ask for nothing (SETTINGS, PING, WINDOW_UPDATE, PRIORITY, empty\n"
       "DATA, RST_STREAM of closed streams) a connection may send; each request earns\n"
       "--h2-flood-refill back, each DATA frame sent two; then GOAWAY ENHANCE_YOUR_CALM (Envoy:\n"
       "max_inbound_priority_frames_per_stream, max_inbound_window_update_frames_per_data_frame_sent;\n"
       "HAProxy: tune.h2.fe.glitches-threshold)",
       "1000"},
      {"h2-flood-refill", "N", "what each HTTP/2 request earns back of --h2-flood-budget", "10"},
      {"h2-max-continuations", "N",
       "CONTINUATION frames after one HEADERS (CONTINUATION flood); more end the connection\n"
       "with GOAWAY ENHANCE_YOUR_CALM (nginx, HAProxy, Envoy: built in)",
       "8"},
      {"h2-max-settings", "N",
       "entries in one SETTINGS frame; more end the connection (Envoy: built in)", "32"},
      {"h2-max-queued-acks", "N",
       "SETTINGS and PING acknowledgements queued for a peer that does not read them; more\n"
       "end the connection (Envoy: max_outbound_control_frames)",
       "1000"},
      {"h2-stall-timeout", "SECONDS",
       "an HTTP/2 response that moves no byte while the client keeps its window shut, or a\n"
       "client that reads nothing of the socket: the stream is reset, or the connection\n"
       "ended, within one to two times this. 0: never. Default: the app's --body-timeout\n"
       "if it has one, else 60 (nginx: send_timeout; HAProxy: timeout client;\n"
       "Envoy: stream_idle_timeout)",
       ""},
  };
}

namespace {

// `name` as a count, into `out`; false after args.complain().
template <typename T>
bool read_count(const Args& args, const std::string& name, unsigned min, unsigned max, T& out) {
  const auto value = args.count(name, min, max);
  if (!value) return false;
  out = static_cast<T>(*value);
  return true;
}

// The h2 option if given a value, else the app's own option of that sense if it has one.
std::string own_or(const Args& args, const std::string& h2_name, const std::string& app_name) {
  if (!args.get(h2_name).empty() || args.find(app_name) == nullptr) return h2_name;
  return app_name;
}

}  // namespace

bool read_http2(const Args& args, Http2Settings& out) {
  const auto on = args.get("http2");
  if (on != "on" && on != "off") {
    args.complain("http2", "expected on or off, not " + on);
    return false;
  }
  out.enabled = on == "on";
  http::Http2Limits& l = out.limits;
  const http::Http2Limits defaults;  // where neither an h2 option nor the app's own is set
  constexpr unsigned max_window = (1u << 31) - 1;  // RFC 9113 6.9.1
  if (!read_count(args, "h2-max-concurrent-streams", 1, 1u << 20, l.max_concurrent_streams) ||
      !read_count(args, "h2-stream-window", 1024, max_window, l.stream_window) ||
      !read_count(args, "h2-stream-buffer", 1024, 1u << 30, l.stream_high) ||
      !read_count(args, "h2-output-buffer", 16 * 1024, 1u << 30, l.output_high) ||
      !read_count(args, "h2-reset-budget", 1, 1u << 30, l.reset_budget) ||
      !read_count(args, "h2-flood-budget", 1, 1u << 30, l.flood_budget) ||
      !read_count(args, "h2-flood-refill", 0, 1u << 30, l.flood_refill) ||
      !read_count(args, "h2-max-continuations", 0, 1u << 20, l.max_continuations) ||
      !read_count(args, "h2-max-settings", 8, 1u << 20, l.max_settings) ||
      !read_count(args, "h2-max-queued-acks", 16, 1u << 30, l.max_outbound_ack))
    return false;
  l.stream_low = l.stream_high / 4;

  const std::string header_bytes = own_or(args, "h2-max-header-bytes", "max-header-bytes");
  if (args.get(header_bytes).empty())
    l.max_header_list_bytes = defaults.max_header_list_bytes;
  else if (!read_count(args, header_bytes, 256, 1u << 30, l.max_header_list_bytes))
    return false;

  const std::string stall = own_or(args, "h2-stall-timeout", "body-timeout");
  if (args.get(stall).empty()) {
    l.stall_timeout = defaults.stall_timeout;
  } else {
    const auto timeout = args.seconds(stall);
    if (!timeout) return false;
    l.stall_timeout = *timeout;
  }
  return true;
}

std::vector<std::string> http_alpn(const Args& args) {
  if (args.get("http2") == "off") return {"http/1.1"};
  return {"h2", "http/1.1"};
}

}  // namespace apps
