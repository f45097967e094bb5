#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <string>

#include "tls/Errors.hpp"
#include "tls/Ptr.hpp"

TEST_CASE("tls conditions have their own category and readable words") {
  const std::error_code verify = tls::Errc::verify_failed;
  CHECK(verify.category().name() == std::string("tls"));
  CHECK(verify.message() == "certificate verify failed");
  CHECK((verify == tls::Errc::verify_failed));
  CHECK((verify != tls::Errc::handshake_failed));
  CHECK(std::error_code(tls::Errc::stream_truncated).message() ==
        "stream truncated: the peer closed without close_notify");
  CHECK(std::error_code(tls::Errc::handshake_failed).message() == "handshake failed");
  CHECK(std::error_code(tls::Errc::unrecognized_name).message() ==
        "no certificate for the requested server name");
  CHECK(std::error_code(tls::Errc::handshake_timeout).message() == "handshake timed out");
  CHECK(std::error_code(tls::Errc::config).message() == "bad TLS configuration");
  CHECK(std::error_code(tls::Errc::internal).message() == "internal TLS error");
  CHECK(std::error_code(tls::Errc::protocol_error).message() == "TLS protocol error");
}

TEST_CASE("draining the OpenSSL error queue gives library, reason and text, oldest first") {
  ERR_clear_error();
  const std::string garbage = "not a certificate";
  const tls::BioPtr bio(BIO_new_mem_buf(garbage.data(), static_cast<int>(garbage.size())));
  CHECK(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) == nullptr);
  const tls::SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  REQUIRE(ctx);
  CHECK(SSL_CTX_set_cipher_list(ctx.get(), "NO-SUCH-CIPHER") == 0);

  const auto queue = tls::drain_error_queue();
  REQUIRE(queue.size() == 2);
  CHECK(queue[0].library == "PEM routines");
  CHECK(queue[0].reason == "no start line");
  CHECK(queue[0].text.find("no start line") != std::string::npos);
  CHECK(queue[0].code != 0);
  CHECK(queue[1].library == "SSL routines");
  CHECK(queue[1].reason == "no cipher match");
  CHECK(tls::last_reason(queue, "fallback") == "no cipher match");
  CHECK(ERR_peek_error() == 0);  // drained
}

TEST_CASE("an empty error queue drains to nothing and last_reason falls back") {
  ERR_clear_error();
  const auto queue = tls::drain_error_queue();
  CHECK(queue.empty());
  CHECK(tls::last_reason(queue, "handshake failed") == "handshake failed");
}

TEST_CASE("a system error in the queue reads as the OS's words") {
  ERR_clear_error();
  ERR_raise(ERR_LIB_SYS, ENOENT);
  const auto queue = tls::drain_error_queue();
  REQUIRE(queue.size() == 1);
  CHECK(queue[0].reason == "No such file or directory");
}
