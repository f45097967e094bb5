// The TLS options every sample app shares (--tls, repeatable --cert/--key pairs chosen by SNI
// or a generated development certificate, mutual TLS, renegotiation, key logging, ticket keys) and
// the server Context they make.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/Args.hpp"
#include "tls/Context.hpp"
#include "tls/TlsTransport.hpp"

namespace apps {

// Whether an app serves cleartext unless --tls (the sample apps), or TLS unless --plain (the
// proxy: TLS termination is its job, cleartext is for tests and benchmarks).
enum class TlsDefault { off, on };

// Appended to an app's own options: --tls or --plain as `tls` says, then the TLS settings.
std::vector<Args::Option> tls_server_options(TlsDefault tls = TlsDefault::off);

// Whether the parsed options ask for TLS (--tls given, or no --plain where that is the option).
bool serves_tls(const Args& args);

// The --ticket-key files, in order (the first encrypts).
std::vector<std::string> ticket_key_files(const Args& args);

// The --cert/--key pairs in order: the first is the default certificate, the others are chosen
// by SNI. Empty when none are given; nullopt (and `error`) when the counts differ.
std::optional<std::vector<tls::CertificateFiles>> certificate_pairs(const Args& args,
                                                                    std::string& error);

// Generates a development certificate (a throwaway CA and a leaf for localhost, 127.0.0.1 and
// ::1) into `dir` and logs where the CA is, so clients can verify against it.
std::optional<tls::CertificateFiles> development_certificate(const std::string& dir,
                                                             std::string& error);

// The per-connection TLS limits (--handshake-timeout, --bye-timeout, --max-plaintext-per-turn,
// --handshakes-per-turn) and the write cap `max_buffered`; nullopt after a complaint about a
// bad value.
std::optional<tls::TransportOptions> transport_options_from(const Args& args,
                                                            std::size_t max_buffered);

// Builds the server Context from the parsed options and `certificates` (not empty); offloaded
// signatures (--offload-private-key) run on `workers` (the caller's, kept across reloads). On
// failure returns nullptr and sets `error` to a sentence naming the file and the reason.
std::shared_ptr<const tls::Context> server_context_from(
    const Args& args, std::vector<tls::CertificateFiles> certificates,
    std::vector<std::string> alpn, std::shared_ptr<tls::WorkerPool> workers, std::string& error);

}  // namespace apps
