// nginx as a test peer: an HTTPS server on a free loopback port, configured in a test's own
// directory and run in the foreground as a child of the test, so the test owns its lifetime.
#pragma once

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "tests/integration/Peers.hpp"
#include "tests/support/TestDir.hpp"

namespace integration {

// What nginx serves, besides `extra_locations` (nginx `location` blocks, verbatim):
//   GET /          "hello from nginx\n"
//   GET /headers   the request's Host, X-Forwarded-For, X-Forwarded-Proto and Via, one line
//   GET /static/F  the file `dir/nginx/www/static/F` (write it with static_file())
struct NginxSite {
  std::string cert_file;  // PEM chain nginx presents
  std::string key_file;
  std::string extra_locations;
  std::string extra_server;  // server-level directives, verbatim (ssl_verify_client ...)
};

// One single-process nginx (master_process off: the test's SIGKILL on failure then leaves no
// orphaned worker behind). Everything nginx writes (temp files, pid) stays under dir/nginx.
class Nginx {
 public:
  Nginx(const test_support::TestDir& dir, NginxSite site) : root_(dir.path("nginx")) {
    std::filesystem::create_directories(std::filesystem::path(root_) / "www" / "static");
    // closed_port() can race with another process taking the port; nginx then exits at once
    // with "Address already in use", and another port is tried.
    for (int attempt = 0; attempt < 3 && !process_; ++attempt) start(site);
    REQUIRE_MESSAGE(process_, "nginx did not start\n" << last_transcript_);
  }

  uint16_t port() const { return port_; }
  std::string port_text() const { return std::to_string(port_); }
  // "https://localhost:PORT/path": the name the test certificates carry.
  std::string url(const std::string& path) const {
    return "https://localhost:" + port_text() + path;
  }
  Process& process() { return *process_; }

  // Writes `contents` where GET /static/NAME serves it from.
  void static_file(const std::string& name, const std::string& contents) const {
    std::ofstream out(std::filesystem::path(root_) / "www" / "static" / name, std::ios::binary);
    out << contents;
    REQUIRE(out.good());
  }

  // SIGQUIT: nginx's graceful shutdown; it must exit 0.
  void stop() {
    process_->signal(SIGQUIT);
    const int code = finish(*process_, std::chrono::seconds(15));
    CHECK_MESSAGE(code == 0, process_->transcript());
  }

 private:
  void start(const NginxSite& site) {
    port_ = closed_port();
    write_config(site);
    auto child = std::make_unique<Process>(std::vector<std::string>{
        "nginx", "-e", "stderr", "-p", root_, "-c", "nginx.conf", "-g",
        "daemon off; master_process off; pid " + root_ + "/nginx.pid; error_log stderr;"});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (child->try_wait()) {
        last_transcript_ = child->transcript();
        return;
      }
      if (accepts(port_)) {
        process_ = std::move(child);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    last_transcript_ = "not accepting after 20 s\n" + child->transcript();
  }

  void write_config(const NginxSite& site) const {
    const std::string& r = root_;
    // Temp paths inside the test directory: the compiled-in ones (/var/lib/nginx) need root.
    // As root, nginx would serve files as "nobody", who cannot enter the test's 0700 directory.
    const std::string user = ::geteuid() == 0 ? "user root;\n" : "";
    const std::string config = user +
                               "events { worker_connections 256; }\n"
                               "http {\n"
                               "  access_log off;\n"
                               "  default_type application/octet-stream;\n"
                               "  client_body_temp_path " +
                               r +
                               "/client_body;\n"
                               "  proxy_temp_path " +
                               r +
                               "/proxy;\n"
                               "  fastcgi_temp_path " +
                               r +
                               "/fastcgi;\n"
                               "  uwsgi_temp_path " +
                               r +
                               "/uwsgi;\n"
                               "  scgi_temp_path " +
                               r +
                               "/scgi;\n"
                               "  server {\n"
                               "    listen 127.0.0.1:" +
                               std::to_string(port_) +
                               " ssl;\n"
                               "    server_name localhost;\n"
                               "    ssl_certificate " +
                               site.cert_file +
                               ";\n"
                               "    ssl_certificate_key " +
                               site.key_file + ";\n" + site.extra_server +
                               "    location = / { return 200 \"hello from nginx\\n\"; }\n"
                               "    location = /headers {\n"
                               "      return 200 \"host=$http_host xff=$http_x_forwarded_for "
                               "proto=$http_x_forwarded_proto via=$http_via\\n\";\n"
                               "    }\n"
                               "    location /static/ { root " +
                               r + "/www; }\n" + site.extra_locations +
                               "  }\n"
                               "}\n";
    std::ofstream out(std::filesystem::path(root_) / "nginx.conf");
    out << config;
    REQUIRE(out.good());
  }

  static bool accepts(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }

  std::string root_;
  uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
  std::string last_transcript_;
};

}  // namespace integration
