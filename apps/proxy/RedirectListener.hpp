// --redirect-listen: a plain HTTP listener beside the proxy's own whose only job is sending
// clients to https, as nginx's `server { listen 80; return 301 https://$host$request_uri; }`
// and HAProxy's `http-request redirect scheme https code 301` do. Every request, whatever its
// method and path, gets 301 with Location https://HOST/TARGET: the request's Host without its
// port (the https side listens on 443) and its target as sent; a request without a Host gets
// 400. It keeps answering through a drain, on loop 0 (reactor::ExtraListener).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "apps/http/Http1Connection.hpp"
#include "reactor/Server.hpp"

namespace apps::proxy {

// The listener on `address` (resolved: redirect_address), its HTTP/1.1 connections with
// `http1`'s limits and head timeout, closed after `idle_timeout` without a request.
reactor::ExtraListener redirect_listener(const reactor::Address& address, http::Http1Options http1,
                                         std::chrono::milliseconds idle_timeout);

// "HOST:PORT" resolved for listening; nullopt with `error` ("--redirect-listen x: ...").
std::optional<reactor::Address> redirect_address(std::string_view host_port, std::string& error);

}  // namespace apps::proxy
