// The TLS options every sample app shares (--tls, --cert/--key or a generated development
// certificate, mutual TLS, renegotiation, key logging, ticket keys) and the server Context
// they make.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apps/common/Args.hpp"
#include "tls/Context.hpp"

namespace apps {

// How an app's users choose TLS: `--tls` turns it on (the sample servers), or it is on unless
// `--plain` (the proxy, whose cleartext mode is for tests and benchmarks).
enum class TlsMode { opt_in, by_default };

// Appended to an app's own options.
std::vector<Args::Option> tls_server_options(TlsMode mode = TlsMode::opt_in);

// Whether the parsed options ask for TLS.
bool serves_tls(const Args& args);

// The --ticket-key files, in order (the first encrypts).
std::vector<std::string> ticket_key_files(const Args& args);

// Builds the server Context from the parsed options. Without --cert/--key it
// generates a development certificate (a throwaway CA and a leaf for localhost, 127.0.0.1 and ::1)
// into
// --dev-cert-dir and says where the CA is, so clients can verify against it. On failure
// returns nullptr and sets `error` to a sentence naming the file and the reason.
std::shared_ptr<const tls::Context> server_context_from(const Args& args,
                                                        std::vector<std::string> alpn,
                                                        std::string& error);

}  // namespace apps
