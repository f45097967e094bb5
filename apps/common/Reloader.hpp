// What serve() makes from one reading of the options (the TLS Context and the handler factory),
// made again on each SIGHUP and swapped into the server for new connections only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/Args.hpp"
#include "apps/common/ServerApp.hpp"
#include "reactor/Handler.hpp"
#include "tls/Context.hpp"

namespace reactor {
class Server;
}

namespace apps {

// One reading of the options, built.
struct Generation {
  std::shared_ptr<const tls::Context> context;  // null without --tls
  reactor::HandlerFactory factory;              // already TLS-wrapped when context is set
};

// Thread-safety: build() and reload() from one thread at a time (start, then loop 0's SIGHUP).
class Reloader {
 public:
  // `started`: the options the process started with (quiet: complaints are only recorded).
  // `outer` and `on_built` as in ServeExtras (either may be empty).
  Reloader(Args started, FactoryBuilder build, std::vector<std::string> alpn,
           decltype(ServeExtras::outer) outer = {}, decltype(ServeExtras::on_built) on_built = {});

  // Builds from `args`. TLS follows the start's --tls; without --cert the development
  // certificate is generated once and reused by later builds. Nullopt and `error` on failure.
  std::optional<Generation> build(const Args& args, std::string& error);

  // SIGHUP: re-reads the config file under the start's command line, warns about options that
  // take a restart, builds, and on success swaps the new factory into `server`. Logs one line
  // either way. True when the new configuration is in use.
  bool reload(reactor::Server& server);

  // The build from `args` is now in use: tells on_built.
  void taken(const Args& args) const {
    if (on_built_) on_built_(args);
  }

 private:
  Args started_;
  FactoryBuilder build_;
  std::vector<std::string> alpn_;
  decltype(ServeExtras::outer) outer_;
  decltype(ServeExtras::on_built) on_built_;
  std::optional<tls::CertificateFiles> dev_certificate_;
  // Started by the first build that offloads signatures; every later one reuses it.
  std::shared_ptr<tls::WorkerPool> workers_;
};

}  // namespace apps
