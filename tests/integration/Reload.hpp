// What the operations tests of the app binaries share: --check runs, a client that reports the
// certificate a new connection gets (peers/reload_peer.py), and a --config whose certificate
// files a test swaps before a SIGHUP.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/Peers.hpp"
#include "tests/support/TestDir.hpp"
#include "tests/support/TestPki.hpp"

namespace integration {

constexpr const char* reloaded = "reload: new connections use";
constexpr const char* reload_refused = "reload failed, the old configuration stays: ";

// What reload_peer.py prints for one new connection ("subject: CN\nstatus: N\nbody: ...").
inline std::string new_client(const AppServer& server, const std::string& ca,
                              std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"subject", "--port", server.port_text(), "--ca", ca};
  args.insert(args.end(), extra.begin(), extra.end());
  auto peer = python_peer("reload_peer.py", args);
  return output_of(peer);
}

// Runs BINARY --check with `options`; returns its exit code and everything it printed.
inline std::pair<int, std::string> check_run(const std::string& binary,
                                             std::vector<std::string> options) {
  options.insert(options.begin(), binary);
  options.emplace_back("--check");
  Process process(std::move(options));
  const int code = finish(process, std::chrono::seconds(30));
  return {code, process.transcript()};
}

// An app binary serving TLS from a config file that names cert.pem and key.pem in a test
// directory, which first hold the localhost identity; install() puts another one there.
// `fixed` is what the file says before them ("tls = true\n" for an app that is cleartext by
// default), `more` (write_config) what it says after.
class Reloadable {
  std::string fixed_;  // first: config's initialiser uses it

 public:
  explicit Reloadable(std::string fixed = "tls = true\n") : fixed_(std::move(fixed)) {}

  test_support::TestPki pki;
  test_support::TestDir dir;
  const std::string cert = dir.path("cert.pem");
  const std::string key = dir.path("key.pem");
  const std::string ca = pki.all_server_cas;
  const std::string config = write_config("");

  std::string write_config(const std::string& more) const {
    return dir.write("server.toml",
                     fixed_ + "cert = \"" + cert + "\"\nkey = \"" + key + "\"\n" + more);
  }
  void install(const tls::dev::Files& identity) const {
    for (const auto& [from, to] :
         {std::pair{identity.leaf.cert_file, cert}, std::pair{identity.leaf.key_file, key}})
      std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  }
  // Puts a file that holds no certificate in cert.pem and sends `server` a SIGHUP; returns its
  // log once that says the reload was refused.
  std::string reload_broken_certificate(AppServer& server) const {
    dir.write("cert.pem", "not a certificate\n");
    server.process().signal(SIGHUP);
    REQUIRE_MESSAGE(server.process().wait_for_stderr(reload_refused, 1, std::chrono::seconds(20)),
                    server.process().transcript());
    return server.process().transcript();
  }
  // Why that reload was refused, as logged: where the config file names cert.pem.
  std::string broken_certificate_error() const {
    const auto line = std::count(fixed_.begin(), fixed_.end(), '\n') + 1;
    return reload_refused + config + ":" + std::to_string(line) + ":8: load certificate " + cert;
  }
  // A client (reload_peer.py keepalive) that made its first request for `path` on one
  // keep-alive connection to `server` and makes its second on it once release_held() is called:
  // the connection that must keep the configuration it started with across a reload.
  Process held_client(const AppServer& server, const std::string& path = "/") const {
    return python_peer("reload_peer.py", {"keepalive", "--port", server.port_text(), "--ca", ca,
                                          "--go", dir.path("go"), "--path", path});
  }
  void release_held() const { dir.write("go", ""); }
  // Sends `server` a SIGHUP and waits until its log says new connections use the result.
  static void reload(AppServer& server) {
    server.process().signal(SIGHUP);
    REQUIRE_MESSAGE(server.process().wait_for_stderr(reloaded, 1, std::chrono::seconds(20)),
                    server.process().transcript());
  }
  // `binary` with --config and `options`, serving the localhost identity.
  std::unique_ptr<AppServer> start(const std::string& binary,
                                   std::vector<std::string> options = {}) const {
    install(pki.ecdsa);
    options.insert(options.begin(), {"--config", config});
    return std::make_unique<AppServer>(binary, std::move(options), "127.0.0.1:0", 1);
  }
};

}  // namespace integration
