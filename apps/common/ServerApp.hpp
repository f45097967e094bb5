// What every sample server shares: --listen, --threads, the timeouts, the TLS options, the
// listening line tests and scripts read, and running until a SIGINT/SIGTERM drain completes.
#pragma once

#include <string>
#include <vector>

#include "apps/common/Args.hpp"
#include "apps/common/TlsOptions.hpp"
#include "reactor/Handler.hpp"

namespace apps {

// The shared options (listen defaulting to `default_listen`), then the app's own, then the TLS
// ones (with --tls for TlsMode::opt_in, --plain for TlsMode::by_default).
std::vector<Args::Option> server_options(const std::string& default_listen,
                                         std::vector<Args::Option> own,
                                         TlsMode mode = TlsMode::opt_in);

// Listens as the parsed options say (over TLS when serves_tls(args), offering `alpn`), prints
// "PROGRAM: listening on ADDR (N thread(s)[, TLS])" on stdout and runs until drained.
// Returns the process exit status: 0 after a drain, 1 when it could not start, 2 for bad options.
int serve(const Args& args, const std::string& program, reactor::HandlerFactory factory,
          std::vector<std::string> alpn = {});

}  // namespace apps
