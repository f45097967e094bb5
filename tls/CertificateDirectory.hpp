// tls::CertificateDirectory: multi-tenant TLS without a restart. A ready-made on_client_hello
// hook that serves a server name the listening Context has no certificate for from a directory:
// DIR/NAME/cert.pem (leaf first, then its chain) and DIR/NAME/key.pem. The files are read and
// a Context built on the worker pool (never on the loop), once per name; a name without files
// is refused with an unrecognized_name alert.
//
//   auto directory = tls::CertificateDirectory::create("/etc/tls/sites", config);
//   config.on_client_hello = directory->hook();
//   auto context = tls::Context::server(config, code, message);
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tls/Context.hpp"

namespace tls {

/// Thread-safety: hook() may run on any number of loops at once; the cache is locked.
class CertificateDirectory : public std::enable_shared_from_this<CertificateDirectory> {
 public:
  /// `policy` is what every per-name Context is built with (versions, ALPN, client auth, ...);
  /// its certificates and hooks are replaced.
  static std::shared_ptr<CertificateDirectory> create(std::string directory, ServerConfig policy);

  /// For ServerConfig::on_client_hello. No SNI, or a name the listening Context has a
  /// certificate for: proceed. A name loaded before: that Context at once. Otherwise the load
  /// runs on the worker pool and the decision follows it. Names are checked to be plain DNS
  /// names (letters, digits, '-', '.'), so a ClientHello cannot name a path outside DIR.
  /// The hook keeps the directory alive (the Contexts it builds have no hook, so no cycle).
  std::function<void(const ClientHello&, HelloDecision)> hook();

  /// Names loaded so far (a Context each).
  std::size_t loaded() const;
  /// Files read so far, successful or not (a test hook; concurrent requests for one name share
  /// one load).
  std::size_t loads() const;

  CertificateDirectory(const CertificateDirectory&) = delete;
  CertificateDirectory& operator=(const CertificateDirectory&) = delete;

 private:
  CertificateDirectory(std::string directory, ServerConfig policy);
  void decide(const ClientHello& hello, HelloDecision decision);
  void load(const std::string& name);

  const std::string directory_;
  ServerConfig policy_;
  std::shared_ptr<WorkerPool> workers_;  ///< policy_.workers, or our own
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Context>> contexts_;
  std::map<std::string, std::vector<HelloDecision>> waiting_;  ///< loads in flight
  std::size_t loads_ = 0;
};

}  // namespace tls
