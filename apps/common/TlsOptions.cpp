#include "apps/common/TlsOptions.hpp"

#include <cstdint>
#include <iostream>
#include <string>

#include "reactor/Log.hpp"
#include "tls/DevCert.hpp"

namespace apps {

std::vector<Args::Option> tls_server_options(TlsDefault tls) {
  std::vector<Args::Option> options{
      tls == TlsDefault::off
          ? Args::Option{"tls", "", "serve TLS (TLS 1.2 and 1.3)", "", false, true}
          : Args::Option{"plain", "", "serve cleartext without TLS (tests and benchmarks only)", "",
                         false, true},
      {"cert", "FILE",
       "certificate chain (PEM); repeat --cert/--key pairs for several, chosen by SNI\n"
       "(the first is the default); without any a development certificate is generated",
       "", true},
      {"key", "FILE", "private key (PEM) for the --cert in the same position", "", true},
      {"dev-cert-dir", "DIR", "where the generated development certificate and its CA are written",
       "/tmp/tlsreactor-dev", false, true},
      {"client-ca", "FILE",
       "ask clients for certificates signed by this CA (mutual TLS; see --client-verify)", ""},
      {"client-verify", "require|optional",
       "with --client-ca: require a certificate, or let clients without one in (one that is\n"
       "shown must verify either way)",
       "require"},
      {"ticket-key", "FILE[,FILE...]",
       "session ticket keys (nginx format, 80 or 48 bytes): the first encrypts, all decrypt;\n"
       "SIGHUP re-reads them",
       ""},
      {"allow-renegotiation", "",
       "allow client-initiated renegotiation (TLS 1.2; refused by default)", ""},
      {"max-renegotiations-per-minute", "N",
       "close a connection whose client starts more renegotiations a minute (allowed or\n"
       "refused); 0 = no limit",
       "3"},
      {"max-key-updates-per-minute", "N",
       "close a connection whose client sends more TLS 1.3 KeyUpdates a minute; 0 = no limit",
       "10"},
      {"handshake-timeout", "SECONDS", "close connections whose handshake takes longer", "10"},
      {"bye-timeout", "SECONDS",
       "after our close_notify, wait this long for the peer's before closing", "3"},
      {"max-plaintext-per-turn", "BYTES",
       "hand a connection's handler at most this much plaintext before serving the loop's\n"
       "other connections; 0 = no limit",
       "262144"},
      {"handshakes-per-turn", "N",
       "TLS handshake steps (their cryptography) per event-loop turn; more wait for the\n"
       "next turn, so established connections stay served; 0 = no limit",
       std::to_string(tls::TransportOptions{}.handshakes_per_turn)},
      {"keylog", "FILE", "log TLS secrets to FILE (SSLKEYLOGFILE format): debugging only", ""},
      {"offload-private-key", "",
       "sign handshakes on worker threads, not on the loop (SSL_ERROR_WANT_ASYNC)", ""},
      {"async-jobs", "N",
       "with --offload-private-key: at most N handshakes signing at once per loop\n"
       "(more wait with SSL_ERROR_WANT_ASYNC_JOB); 0 = no bound",
       "0", false, true},
  };
  return options;
}

bool serves_tls(const Args& args) {
  return args.find("plain") != nullptr ? !args.flag("plain") : args.flag("tls");
}

std::vector<std::string> ticket_key_files(const Args& args) {
  return args.list("ticket-key");
}

std::optional<std::vector<tls::CertificateFiles>> certificate_pairs(const Args& args,
                                                                    std::string& error) {
  const auto certs = args.values("cert");
  const auto keys = args.values("key");
  if (certs.size() != keys.size()) {
    error = "--cert and --key go in pairs: " + std::to_string(certs.size()) + " --cert, " +
            std::to_string(keys.size()) + " --key";
    return std::nullopt;
  }
  std::vector<tls::CertificateFiles> pairs;
  for (std::size_t i = 0; i < certs.size(); ++i) pairs.push_back({certs[i], keys[i]});
  return pairs;
}

std::optional<tls::CertificateFiles> development_certificate(const std::string& dir,
                                                             std::string& error) {
  // 90 days, as a public CA would issue: scanners (testssl.sh) rate a certificate that
  // expires within 60 days as a finding, and a demo left running should not trip on it.
  const auto files = tls::dev::write(
      tls::dev::generate({"localhost", "127.0.0.1", "::1"}, tls::dev::KeyType::ecdsa_p256, 90),
      dir);
  if (!files) {
    error = files.error().message();
    return std::nullopt;
  }
  reactor::log::info("development certificate for localhost, 127.0.0.1, ::1: " +
                     files->leaf.cert_file + " (trust " + files->ca_file + " to verify it)");
  return files->leaf;
}

std::optional<tls::TransportOptions> transport_options_from(const Args& args,
                                                            std::size_t max_buffered) {
  const auto handshake = args.seconds("handshake-timeout");
  const auto bye = args.seconds("bye-timeout");
  const auto per_turn = args.count("max-plaintext-per-turn", 0, UINT32_MAX);
  const auto handshakes = args.count("handshakes-per-turn", 0, UINT32_MAX);
  if (!handshake || !bye || !per_turn || !handshakes) return std::nullopt;
  if (handshake->count() == 0) {
    args.complain("handshake-timeout",
                  "must be more than 0 (an unbounded handshake is an open door)");
    return std::nullopt;
  }
  tls::TransportOptions options;
  options.handshake_timeout = *handshake;
  options.bye_timeout = *bye;
  options.max_buffered = max_buffered;
  options.max_plaintext_per_turn = *per_turn;
  options.handshakes_per_turn = *handshakes;
  return options;
}

std::shared_ptr<const tls::Context> server_context_from(
    const Args& args, std::vector<tls::CertificateFiles> certificates,
    std::vector<std::string> alpn, std::shared_ptr<tls::WorkerPool> workers, std::string& error) {
  tls::ServerConfig config;
  config.alpn = std::move(alpn);
  config.certificates = std::move(certificates);
  const std::string verify = args.get("client-verify");
  if (verify != "require" && verify != "optional") {
    error = args.located("client-verify",
                         "--client-verify: expected require or optional, got '" + verify + "'");
    return nullptr;
  }
  if (const std::string ca = args.get("client-ca"); !ca.empty()) {
    // OpenSSL's request mode still refuses a certificate that fails verification.
    config.client_auth = verify == "optional" ? tls::ClientAuth::request : tls::ClientAuth::require;
    config.client_ca_file = ca;
  } else if (args.given("client-verify")) {
    error = args.located("client-verify", "--client-verify goes with --client-ca");
    return nullptr;
  }
  config.ticket_key_files = ticket_key_files(args);
  config.allow_client_renegotiation = args.flag("allow-renegotiation");
  const auto renegotiations = args.count("max-renegotiations-per-minute", 0, 1'000'000);
  const auto key_updates = args.count("max-key-updates-per-minute", 0, 1'000'000);
  if (!renegotiations || !key_updates) {
    error = args.last_error();
    return nullptr;
  }
  config.peer_limits = {*renegotiations, *key_updates};
  config.keylog_file = args.get("keylog");
  config.offload_private_key = args.flag("offload-private-key");
  config.workers = std::move(workers);
  auto made = tls::Context::server(config);
  if (!made) {
    error = made.error().detail();
    return nullptr;
  }
  return *made;
}

}  // namespace apps
