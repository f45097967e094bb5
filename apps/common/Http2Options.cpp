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
       "(nginx: http2_max_concurrent_streams)",
       "100"},
  };
}

bool read_http2(const Args& args, Http2Settings& out) {
  const auto on = args.get("http2");
  if (on != "on" && on != "off") {
    args.complain("http2", "expected on or off, not " + on);
    return false;
  }
  out.enabled = on == "on";
  const auto streams = args.count("h2-max-concurrent-streams", 1, 1u << 20);
  if (!streams) return false;
  out.limits.max_concurrent_streams = *streams;
  return true;
}

std::vector<std::string> http_alpn(const Args& args) {
  if (args.get("http2") == "off") return {"http/1.1"};
  return {"h2", "http/1.1"};
}

}  // namespace apps
