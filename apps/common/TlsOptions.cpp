#include "apps/common/TlsOptions.hpp"

#include <iostream>

#include "reactor/Log.hpp"
#include "tls/DevCert.hpp"

namespace apps {

std::vector<Args::Option> tls_server_options(TlsMode mode) {
  Args::Option choice = mode == TlsMode::opt_in
                            ? Args::Option{"tls", "", "serve TLS (TLS 1.2 and 1.3)", ""}
                            : Args::Option{"plain", "",
                                           "serve cleartext HTTP instead of TLS (tests and "
                                           "benchmarks only)",
                                           ""};
  return {
      std::move(choice),
      {"cert", "FILE", "certificate chain (PEM); without it a development certificate is generated",
       ""},
      {"key", "FILE", "private key (PEM) for --cert", ""},
      {"dev-cert-dir", "DIR", "where the generated development certificate and its CA are written",
       "/tmp/tlsreactor-dev"},
      {"client-ca", "FILE", "require client certificates signed by this CA (mutual TLS)", ""},
      {"ticket-key", "FILE[,FILE...]",
       "session ticket keys (nginx format, 80 or 48 bytes): the first encrypts, all decrypt;\n"
       "SIGHUP re-reads them",
       ""},
      {"allow-renegotiation", "",
       "allow client-initiated renegotiation (TLS 1.2; refused by default)", ""},
      {"keylog", "FILE", "log TLS secrets to FILE (SSLKEYLOGFILE format): debugging only", ""},
      {"offload-private-key", "",
       "sign handshakes on worker threads, not on the loop (SSL_ERROR_WANT_ASYNC)", ""},
      {"async-jobs", "N",
       "with --offload-private-key: at most N handshakes signing at once per loop\n"
       "(more wait with SSL_ERROR_WANT_ASYNC_JOB); 0 = no bound",
       "0"},
  };
}

bool serves_tls(const Args& args) {
  return args.find("plain") == nullptr ? args.flag("tls") : !args.flag("plain");
}

std::vector<std::string> ticket_key_files(const Args& args) {
  return args.list("ticket-key");
}

std::shared_ptr<const tls::Context> server_context_from(const Args& args,
                                                        std::vector<std::string> alpn,
                                                        std::string& error) {
  tls::ServerConfig config;
  config.alpn = std::move(alpn);
  const std::string cert = args.get("cert");
  const std::string key = args.get("key");
  if (cert.empty() != key.empty()) {
    error = "--cert and --key go together";
    return nullptr;
  }
  if (cert.empty()) {
    std::error_code code;
    const auto files = tls::dev::write(tls::dev::generate({"localhost", "127.0.0.1", "::1"}),
                                       args.get("dev-cert-dir"), code, error);
    if (code) return nullptr;
    reactor::log::info("development certificate for localhost, 127.0.0.1, ::1: " +
                       files.leaf.cert_file + " (trust " + files.ca_file + " to verify it)");
    config.certificates = {files.leaf};
  } else {
    config.certificates = {{cert, key}};
  }
  if (const std::string ca = args.get("client-ca"); !ca.empty()) {
    config.client_auth = tls::ClientAuth::require;
    config.client_ca_file = ca;
  }
  config.ticket_key_files = ticket_key_files(args);
  config.allow_client_renegotiation = args.flag("allow-renegotiation");
  config.keylog_file = args.get("keylog");
  config.offload_private_key = args.flag("offload-private-key");
  std::error_code code;
  auto context = tls::Context::server(config, code, error);
  return context;
}

}  // namespace apps
