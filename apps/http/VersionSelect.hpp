// Which HTTP a connection speaks, decided once at its start: over TLS by the protocol ALPN
// agreed ("h2" → HTTP/2, anything else → HTTP/1.1), over plain TCP by its first bytes (the
// HTTP/2 connection preface → HTTP/2 with prior knowledge, RFC 9113 3.3; anything else →
// HTTP/1.1). The chosen handler then gets the connection's callbacks as if it had been made for
// it, starting with on_open and the bytes read so far.
#pragma once

#include "reactor/Handler.hpp"

namespace apps::http {

struct VersionChoice {
  reactor::HandlerFactory http1;
  reactor::HandlerFactory http2;  // empty: HTTP/1.1 only
  // Plain TCP connections may start HTTP/2 with the preface (h2c prior knowledge; curl
  // --http2-prior-knowledge, h2load). Off for TLS listeners, where ALPN decides.
  bool prior_knowledge = false;
};

// A factory of connection handlers that choose as above. Thread-safe as the two it holds.
reactor::HandlerFactory select_http_version(VersionChoice choice);

}  // namespace apps::http
