#include "bench/tls_load/Request.hpp"

namespace bench::tls_load {

std::string http_request(const Options& options, RequestKind kind) {
  return "GET " + options.path + " HTTP/1.1\r\nHost: " + options.sni +
         "\r\nConnection: " + (kind == RequestKind::close ? "close" : "keep-alive") + "\r\n\r\n";
}

}  // namespace bench::tls_load
