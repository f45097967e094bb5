// The HTTP/2 options hello and the proxy share: whether HTTP/2 is offered at all and the
// limits every HTTP/2 connection runs under (Http2Limits). One list, so both apps spell a limit
// the same way and docs/http2.md can name each with its nginx/HAProxy equivalent.
#pragma once

#include <string>
#include <vector>

#include "apps/common/Args.hpp"
#include "apps/http/Http2Session.hpp"

namespace apps {

// What the HTTP/2 options say, read once per build of an app's factory.
struct Http2Settings {
  bool enabled = true;  // --http2 on|off
  http::Http2Limits limits;
};

// The options, for an app's own list (server_options' `own`).
std::vector<Args::Option> http2_options();

// Reads them. False after args.complain() named a bad value.
bool read_http2(const Args& args, Http2Settings& out);

// The ALPN list a TLS listener offers: {"h2", "http/1.1"}, or {"http/1.1"} under --http2 off.
std::vector<std::string> http_alpn(const Args& args);

}  // namespace apps
