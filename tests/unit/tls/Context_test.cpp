#include "tls/Context.hpp"

#include <doctest/doctest.h>

#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/TestDir.hpp"
#include "tls/DevCert.hpp"
#include "tls/Errors.hpp"
#include "tls/SessionCache.hpp"
#include "tls/SniMatch.hpp"

namespace {

struct Fixture {
  test_support::TestDir dir;
  tls::dev::Files files = make("dev", {"localhost", "127.0.0.1"});
  tls::dev::Files other = make("other", {"other.test"});

  tls::dev::Files make(const std::string& name, const std::vector<std::string>& names) const {
    auto written = tls::dev::write(tls::dev::generate(names), dir.path(name));
    REQUIRE_MESSAGE(written, written.error().message());
    return *written;
  }

  tls::ServerConfig server_config() const {
    tls::ServerConfig config;
    config.certificates = {files.leaf};
    return config;
  }
};

std::shared_ptr<const tls::Context> server(const tls::ServerConfig& config) {
  auto context = tls::Context::server(config);
  REQUIRE_MESSAGE(context, context.error().message());
  CHECK_FALSE(context.error());
  return *context;
}

std::shared_ptr<const tls::Context> client(const tls::ClientConfig& config) {
  auto context = tls::Context::client(config);
  REQUIRE_MESSAGE(context, context.error().message());
  return *context;
}

// The message of a server Context that must fail to build, after checking it is a config error.
std::string server_error(const tls::ServerConfig& config) {
  const auto refused = tls::Context::server(config);
  CHECK_FALSE(refused);
  CHECK((refused.error().code() == tls::Errc::config));
  return refused.error().detail();
}

tls::X509Ptr cert_from(const std::string& file) {
  const std::string pem = test_support::TestDir::read(file);
  const tls::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  tls::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(cert);
  return cert;
}

}  // namespace

TEST_CASE_FIXTURE(Fixture, "a server Context builds from dev certificate files") {
  const auto context = server(server_config());
  CHECK(context->is_server());
  REQUIRE(context->native() != nullptr);
  CHECK(SSL_CTX_get0_certificate(context->native()) != nullptr);
}

TEST_CASE_FIXTURE(Fixture, "a server Context sets what the Engine and the policy rely on") {
  const auto context = server(server_config());
  SSL_CTX* ctx = context->native();
  const long mode = SSL_CTX_get_mode(ctx);
  CHECK((mode & SSL_MODE_ENABLE_PARTIAL_WRITE) != 0);
  CHECK((mode & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) != 0);
  const std::uint64_t options = SSL_CTX_get_options(ctx);
  CHECK((options & SSL_OP_NO_COMPRESSION) != 0);
  CHECK((options & SSL_OP_CIPHER_SERVER_PREFERENCE) != 0);
  // OpenSSL 3.0's default refuses client-initiated renegotiation; the server may still start one.
  CHECK((options & SSL_OP_NO_RENEGOTIATION) == 0);
  CHECK((options & SSL_OP_ALLOW_CLIENT_RENEGOTIATION) == 0);
  CHECK((options & SSL_OP_NO_TICKET) == 0);
  CHECK(SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION);
  CHECK(SSL_CTX_get_num_tickets(ctx) == 1);
  CHECK(SSL_CTX_get_session_cache_mode(ctx) == SSL_SESS_CACHE_SERVER);
  CHECK(SSL_CTX_sess_get_cache_size(ctx) == 20480);
  CHECK(SSL_CTX_get_timeout(ctx) == 3600);
  CHECK(SSL_CTX_get_verify_mode(ctx) == SSL_VERIFY_NONE);
  // TLS 1.2 suites are ECDHE with AEAD only.
  const STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx);
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
    if (std::string(SSL_CIPHER_get_version(cipher)) == "TLSv1.3") continue;
    CAPTURE(SSL_CIPHER_get_name(cipher));
    CHECK(SSL_CIPHER_get_kx_nid(cipher) == NID_kx_ecdhe);
    CHECK(SSL_CIPHER_is_aead(cipher) == 1);
  }
}

TEST_CASE_FIXTURE(Fixture, "server options follow the configuration") {
  tls::ServerConfig config = server_config();
  config.allow_client_renegotiation = true;
  config.session_tickets = false;
  config.session_cache_size = 0;
  config.tickets_per_handshake = 3;
  config.client_auth = tls::ClientAuth::require;
  config.client_ca_file = other.ca_file;
  config.max_version = TLS1_2_VERSION;
  const auto context = server(config);
  SSL_CTX* ctx = context->native();
  const std::uint64_t options = SSL_CTX_get_options(ctx);
  CHECK((options & SSL_OP_ALLOW_CLIENT_RENEGOTIATION) != 0);
  CHECK((options & SSL_OP_NO_TICKET) != 0);
  CHECK(SSL_CTX_get_session_cache_mode(ctx) == SSL_SESS_CACHE_OFF);
  CHECK(SSL_CTX_get_num_tickets(ctx) == 3);
  CHECK(SSL_CTX_get_verify_mode(ctx) == (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT));
  CHECK(SSL_CTX_get_max_proto_version(ctx) == TLS1_2_VERSION);
  // The CertificateRequest names the client CA.
  const STACK_OF(X509_NAME)* names = SSL_CTX_get_client_CA_list(ctx);
  REQUIRE(sk_X509_NAME_num(names) == 1);
  CHECK(X509_NAME_cmp(sk_X509_NAME_value(names, 0),
                      X509_get_subject_name(cert_from(other.ca_file).get())) == 0);
}

TEST_CASE("a server Context needs a certificate") {
  CHECK(server_error({}) == "a server needs at least one certificate");
}

TEST_CASE_FIXTURE(Fixture,
                  "a missing certificate file is refused with its path and the OS's reason") {
  tls::ServerConfig config;
  config.certificates = {{dir.path("absent.pem"), files.leaf.key_file}};
  CHECK(server_error(config) ==
        "load certificate " + dir.path("absent.pem") + ": No such file or directory");
}

TEST_CASE_FIXTURE(Fixture,
                  "a garbage certificate file is refused with its path and OpenSSL's reason") {
  tls::ServerConfig config;
  const std::string garbage = dir.write("garbage.pem", "this is not PEM\n");
  config.certificates = {{garbage, files.leaf.key_file}};
  CHECK(server_error(config) == "load certificate " + garbage + ": no start line");
}

TEST_CASE_FIXTURE(Fixture, "a missing or garbage key file is refused with its path") {
  tls::ServerConfig config;
  config.certificates = {{files.leaf.cert_file, dir.path("absent.key")}};
  CHECK(server_error(config) ==
        "load private key " + dir.path("absent.key") + ": No such file or directory");
  const std::string garbage = dir.write("garbage.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n");
  config.certificates = {{files.leaf.cert_file, garbage}};
  const std::string message = server_error(config);
  CHECK(message.starts_with("load private key " + garbage + ": "));
  CHECK(message.size() > ("load private key " + garbage + ": ").size());
  // A certificate where the key should be.
  config.certificates = {{files.leaf.cert_file, files.leaf.cert_file}};
  CHECK(server_error(config).starts_with("load private key " + files.leaf.cert_file + ": "));
}

TEST_CASE_FIXTURE(Fixture,
                  "a key that belongs to another certificate is refused, naming both files") {
  tls::ServerConfig config;
  config.certificates = {{files.leaf.cert_file, other.leaf.key_file}};
  CHECK(server_error(config) == "certificate " + files.leaf.cert_file + " and key " +
                                    other.leaf.key_file + " do not match: key values mismatch");
  // An RSA key with an ECDSA certificate: a different kind of mismatch, still named.
  const auto rsa_pem = tls::dev::generate({"localhost"}, tls::dev::KeyType::rsa_2048);
  const std::string rsa_key = dir.write("rsa.key", rsa_pem.key);
  config.certificates = {{files.leaf.cert_file, rsa_key}};
  CHECK(server_error(config).starts_with("certificate " + files.leaf.cert_file + " and key " +
                                         rsa_key + " do not match: "));
}

TEST_CASE_FIXTURE(Fixture, "bad algorithm settings are refused, naming the setting") {
  tls::ServerConfig config = server_config();
  config.ciphers = "NO-SUCH-CIPHER";
  CHECK(server_error(config) == "set TLS 1.2 ciphers \"NO-SUCH-CIPHER\": no cipher match");
  config = server_config();
  config.ciphersuites = "TLS_NO_SUCH_SUITE";
  CHECK(server_error(config).starts_with("set TLS 1.3 ciphersuites \"TLS_NO_SUCH_SUITE\": "));
  config = server_config();
  config.groups = "no-such-group";
  CHECK(server_error(config).starts_with("set groups \"no-such-group\": "));
  config = server_config();
  config.min_version = 12345;
  CHECK(server_error(config).starts_with("set minimum version 12345: "));
}

TEST_CASE_FIXTURE(Fixture, "inconsistent server settings are refused with what is wrong") {
  tls::ServerConfig config = server_config();
  config.client_auth = tls::ClientAuth::request;
  CHECK(server_error(config) == "client certificates are asked for but client_ca_file is empty");
  config.client_ca_file = dir.path("absent-ca.pem");
  CHECK(server_error(config) ==
        "load client CA file " + dir.path("absent-ca.pem") + ": No such file or directory");
  config = server_config();
  config.alpn = {"h2", std::string(256, 'x')};
  CHECK(server_error(config).find("must be 1 to 255 bytes long") != std::string::npos);
  config.alpn = {""};
  CHECK(server_error(config).find("must be 1 to 255 bytes long") != std::string::npos);
  config = server_config();
  config.ticket_key_files = {dir.write("short.key", std::string(47, 'k'))};
  const std::string message = server_error(config);
  CHECK(message.find(dir.path("short.key")) != std::string::npos);
  CHECK(message.find("47 bytes") != std::string::npos);
}

TEST_CASE_FIXTURE(Fixture, "a key log file is opened private and in append mode") {
  tls::ServerConfig config = server_config();
  config.keylog_file = dir.write("keys.log", "an earlier line\n");
  std::filesystem::permissions(
      config.keylog_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  server(config);
  CHECK(test_support::TestDir::read(config.keylog_file) == "an earlier line\n");
  config.keylog_file = dir.path("new.log");
  server(config);
  CHECK(std::filesystem::status(config.keylog_file).permissions() ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  config.keylog_file = dir.path("no-such-dir/keys.log");
  CHECK(server_error(config) ==
        "open key log file " + config.keylog_file + ": No such file or directory");
}

TEST_CASE_FIXTURE(Fixture,
                  "ticket keys rotate on server Contexts only, and bad files are refused") {
  const auto context = server(server_config());
  CHECK_FALSE(context->rotate_ticket_keys({dir.write("good.key", std::string(80, 'g'))}));
  const reactor::Error bad =
      context->rotate_ticket_keys({dir.write("bad.key", std::string(47, 'b'))});
  CHECK((bad.code() == tls::Errc::config));
  CHECK(bad.detail().find("47 bytes") != std::string::npos);

  tls::ClientConfig client_config;
  client_config.ca_file = files.ca_file;
  const reactor::Error wrong = client(client_config)->rotate_ticket_keys({dir.path("good.key")});
  CHECK(wrong.detail() == "ticket keys belong to server Contexts");
}

TEST_CASE_FIXTURE(Fixture, "a client Context builds with a CA file and with the system store") {
  tls::ClientConfig config;
  config.ca_file = files.ca_file;
  config.alpn = {"h2", "http/1.1"};
  const auto with_ca = client(config);
  CHECK_FALSE(with_ca->is_server());
  SSL_CTX* ctx = with_ca->native();
  CHECK(SSL_CTX_get_verify_mode(ctx) == SSL_VERIFY_PEER);
  CHECK((SSL_CTX_get_mode(ctx) & SSL_MODE_ENABLE_PARTIAL_WRITE) != 0);
  CHECK((SSL_CTX_get_mode(ctx) & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) != 0);
  CHECK(SSL_CTX_get_session_cache_mode(ctx) ==
        (SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE));
  // The CA file is what the store trusts.
  const auto objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
  CHECK(sk_X509_OBJECT_num(objects) == 1);

  const auto system = client({});
  CHECK(SSL_CTX_get_verify_mode(system->native()) == SSL_VERIFY_PEER);

  tls::ClientConfig off;
  off.verify = false;
  off.session_resumption = false;
  const auto unverified = client(off);
  CHECK(SSL_CTX_get_verify_mode(unverified->native()) == SSL_VERIFY_NONE);
  CHECK(SSL_CTX_get_session_cache_mode(unverified->native()) == SSL_SESS_CACHE_OFF);
}

TEST_CASE_FIXTURE(Fixture, "client Context errors name the file at fault") {
  const auto refusal = [](const tls::ClientConfig& config) {
    const auto made = tls::Context::client(config);
    CHECK_FALSE(made);
    CHECK((made.error().code() == tls::Errc::config));
    return made.error().detail();
  };
  tls::ClientConfig config;
  config.ca_file = dir.write("empty-ca.pem", "");
  CHECK(refusal(config) == "load CA file " + config.ca_file + ": no certificates in the file");
  config.ca_file = files.ca_file;
  config.client_certificate = {files.leaf.cert_file, other.leaf.key_file};
  CHECK(refusal(config).starts_with("certificate " + files.leaf.cert_file + " and key "));
  config.client_certificate = {files.leaf.cert_file, ""};
  CHECK(refusal(config) == "a client certificate needs both cert_file and key_file");
  config.client_certificate = files.leaf;
  CHECK(tls::Context::client(config));
}

TEST_CASE_FIXTURE(Fixture, "prepare_client sends SNI for names and checks the name or the IP") {
  tls::ClientConfig config;
  config.ca_file = files.ca_file;
  const auto context = client(config);

  const tls::SslPtr named(SSL_new(context->native()));
  REQUIRE_FALSE(context->prepare_client(named.get(), "Example.COM", 443));
  CHECK(SSL_get_servername(named.get(), TLSEXT_NAMETYPE_host_name) == std::string("Example.COM"));
  CHECK(X509_VERIFY_PARAM_get0_host(SSL_get0_param(named.get()), 0) == std::string("Example.COM"));
  CHECK(*tls::SessionCache::key_of(named.get()) == "example.com:443");  // one entry per host

  for (const char* ip : {"127.0.0.1", "::1", "[::1]"}) {
    CAPTURE(ip);
    const tls::SslPtr literal(SSL_new(context->native()));
    REQUIRE_FALSE(context->prepare_client(literal.get(), ip, 8443));
    CHECK(SSL_get_servername(literal.get(), TLSEXT_NAMETYPE_host_name) == nullptr);  // RFC 6066
    CHECK(X509_VERIFY_PARAM_get0_host(SSL_get0_param(literal.get()), 0) == nullptr);
    char* checked = X509_VERIFY_PARAM_get1_ip_asc(SSL_get0_param(literal.get()));
    REQUIRE(checked != nullptr);
    CAPTURE(checked);
    CHECK((std::string(checked) == "127.0.0.1" || std::string(checked) == "0:0:0:0:0:0:0:1"));
    const std::string key = *tls::SessionCache::key_of(literal.get());
    CHECK((key == "127.0.0.1:8443" || key == "[::1]:8443"));
    OPENSSL_free(checked);
  }
}

TEST_CASE_FIXTURE(Fixture, "prepare_client refuses what it cannot check") {
  tls::ClientConfig config;
  config.ca_file = files.ca_file;
  const auto context = client(config);
  const tls::SslPtr ssl(SSL_new(context->native()));
  CHECK((context->prepare_client(ssl.get(), "", 443).code() == tls::Errc::config));
  CHECK(context->prepare_client(ssl.get(), std::string(300, 'a'), 443)
            .detail()
            .starts_with("server name aaaa"));

  const auto server_context = server(server_config());
  const tls::SslPtr server_ssl(SSL_new(server_context->native()));
  CHECK(server_context->prepare_client(server_ssl.get(), "localhost", 443).detail() ==
        "prepare_client needs a client Context");
}

TEST_CASE("SNI wildcards cover exactly one left-most label, ignoring case") {
  CHECK(tls::sni_matches("*.example.com", "a.example.com"));
  CHECK(tls::sni_matches("*.example.com", "A.Example.COM"));
  CHECK_FALSE(tls::sni_matches("*.example.com", "example.com"));
  CHECK_FALSE(tls::sni_matches("*.example.com", "a.b.example.com"));
  CHECK_FALSE(tls::sni_matches("*.example.com", ".example.com"));
  CHECK_FALSE(tls::sni_matches("*.example.com", "a.example.org"));
  CHECK_FALSE(tls::sni_matches("*.example.com", "aexample.com"));
  CHECK(tls::sni_matches("www.example.com", "WWW.example.com"));
  CHECK_FALSE(tls::sni_matches("www.example.com", "www.example.co"));
  CHECK_FALSE(tls::sni_matches("w*.example.com", "www.example.com"));  // no partial wildcards
  CHECK_FALSE(tls::sni_matches("*.", "a."));
  CHECK_FALSE(tls::sni_matches("", ""));
}

TEST_CASE("an exact certificate name beats a wildcard wherever each is listed") {
  const std::vector<std::vector<std::string>> names = {
      {"default.test"}, {"*.example.com"}, {"api.example.com", "other.test"}};
  CHECK(tls::choose_certificate(names, "api.example.com") == 2);
  CHECK(tls::choose_certificate(names, "www.example.com") == 1);
  CHECK(tls::choose_certificate(names, "OTHER.test") == 2);
  CHECK(tls::choose_certificate(names, "default.test") == 0);
  CHECK(tls::choose_certificate(names, "nothing.test") == -1);
}

TEST_CASE_FIXTURE(Fixture, "certificate names come from DNS subjectAltNames, not IPs") {
  const auto pem = tls::dev::generate({"Localhost", "*.wild.test", "127.0.0.1", "::1"});
  const tls::BioPtr bio(BIO_new_mem_buf(pem.cert.data(), static_cast<int>(pem.cert.size())));
  const tls::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(cert);
  CHECK(tls::certificate_names(cert.get()) == std::vector<std::string>{"localhost", "*.wild.test"});
}

TEST_CASE("certificate names fall back to the subject CN without DNS subjectAltNames") {
  const tls::EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  REQUIRE(key);
  const tls::X509Ptr cert(X509_new());
  REQUIRE(cert);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  REQUIRE(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>("Legacy.Example"), -1,
                                     -1, 0) == 1);
  REQUIRE(X509_set_pubkey(cert.get(), key.get()) == 1);
  CHECK(tls::certificate_names(cert.get()) == std::vector<std::string>{"legacy.example"});
}

TEST_CASE("the client session cache keeps the newest session per destination, bounded") {
  const auto session = [](unsigned char id) {
    tls::SessionPtr s(SSL_SESSION_new());
    REQUIRE(s);
    REQUIRE(SSL_SESSION_set1_id(s.get(), &id, 1) == 1);  // resumable: it has an ID
    SSL_SESSION_set_time(s.get(), std::time(nullptr));
    SSL_SESSION_set_timeout(s.get(), 300);
    return s;
  };
  tls::SessionCache cache(2);
  const auto a = session(1);
  const auto b = session(2);
  const auto c = session(3);
  const auto a2 = session(4);
  cache.store("a:443", a.get());
  cache.store("b:443", b.get());
  cache.store("a:443", a2.get());  // newest for a, and a becomes the most recent key
  CHECK(cache.find("a:443").get() == a2.get());
  cache.store("c:443", c.get());  // full: b, the least recently stored, goes
  CHECK(cache.size() == 2);
  CHECK(cache.find("b:443") == nullptr);
  CHECK(cache.find("c:443").get() == c.get());

  const tls::SessionPtr unusable(SSL_SESSION_new());  // no ID, no ticket: not resumable
  cache.store("d:443", unusable.get());
  CHECK(cache.find("d:443") == nullptr);

  SSL_SESSION_set_time(c.get(), std::time(nullptr) - 600);  // expired
  CHECK(cache.find("c:443") == nullptr);
  CHECK(cache.size() == 1);
}
