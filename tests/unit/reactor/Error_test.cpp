#include <doctest/doctest.h>

#include <uv.h>

#include "reactor/Error.hpp"

TEST_CASE("an Error reads as context: reason") {
  const reactor::Error e(reactor::uv_error(UV_ECONNREFUSED), "connect 127.0.0.1:9");
  CHECK(static_cast<bool>(e));
  CHECK(e.message() == "connect 127.0.0.1:9: connection refused");
  CHECK(reactor::Error().message().empty());
  const reactor::Error detailed(reactor::Errc::aborted, "handshake", "hostname mismatch");
  CHECK(detailed.message() == "handshake: connection aborted: hostname mismatch");
  CHECK_FALSE(reactor::Error());
}

TEST_CASE("libuv errors compare equal to the std::errc a user would test for") {
  CHECK((reactor::uv_error(UV_ECONNREFUSED) == std::errc::connection_refused));
  CHECK((reactor::uv_error(UV_ECONNRESET) == std::errc::connection_reset));
  // getaddrinfo failures are not errno values and must not alias one.
  CHECK((reactor::uv_error(UV_EAI_NONAME) != std::errc::no_such_file_or_directory));
  CHECK((reactor::uv_error(UV_EAI_NONAME).category().name() == std::string("libuv")));
}

TEST_CASE("reactor conditions have their own category and words") {
  const std::error_code idle = reactor::Errc::idle_timeout;
  CHECK(idle.category().name() == std::string("reactor"));
  CHECK(idle.message() == "idle timeout");
  CHECK((idle == reactor::Errc::idle_timeout));
  CHECK((idle != reactor::Errc::connect_timeout));
}
