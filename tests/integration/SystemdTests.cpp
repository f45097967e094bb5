// The apps under a service manager, without one, around the real binaries (every app gets
// this from apps/common): peers/systemd_peer.py plays systemd's notify socket (Type=notify:
// READY, RELOADING, STOPPING) and its socket activation (LISTEN_FDS).
// The proxy's unit files go through systemd's own checker when it is installed.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "tests/integration/Peers.hpp"
#include "tests/support/TestDir.hpp"

using integration::output_of;
using integration::python_peer;

namespace {

// What systemd_peer.py notify saw of `binary` through start, SIGHUP and SIGTERM.
void check_notify_sequence(const std::string& binary, const std::string& program, bool abstract) {
  test_support::TestDir dir;
  std::vector<std::string> args{"notify", "--dir", dir.path("")};
  if (abstract) args.emplace_back("--abstract");
  for (const std::string word : {"--", binary.c_str(), "--listen", "127.0.0.1:0"})
    args.push_back(word);
  auto peer = python_peer("systemd_peer.py", args);
  const std::string out = output_of(peer);
  const std::regex expected(
      "READY=1 MAINPID=app STATUS=listening on 127\\.0\\.0\\.1:\\d+ \\(1 thread(, TLS)?\\)\n"
      "RELOADING=1 MONOTONIC_USEC=now STATUS=reloading\n"
      "READY=1 MAINPID=app STATUS=serving the reloaded configuration\n"
      "STOPPING=1 STATUS=draining\n"
      "exit: 0\n");
  CHECK_MESSAGE(std::regex_match(out, expected), program << ":\n" << out);
}

}  // namespace

TEST_CASE("under NOTIFY_SOCKET echo says READY once listening, RELOADING then READY, STOPPING") {
  check_notify_sequence(TLSREACTOR_ECHO_BIN, "tlsreactor-echo", false);
}

TEST_CASE("hello notifies the same through an abstract-namespace NOTIFY_SOCKET") {
  check_notify_sequence(TLSREACTOR_HELLO_BIN, "tlsreactor-hello", true);
}

TEST_CASE("with LISTEN_FDS echo serves the passed socket, and a client queued before it started") {
  // Two passed sockets; --listen names the second, which the early client waits on.
  auto peer =
      python_peer("systemd_peer.py", {"listen-fds", "--sockets", "2", "--serve", "1", "--",
                                      TLSREACTOR_ECHO_BIN, "--listen", "127.0.0.1:{port1}"});
  CHECK(output_of(peer) ==
        "listening: tlsreactor-echo: listening on 127.0.0.1:{port1} (1 thread)\n"
        "early client: early\n"
        "exit: 0\n");
}

TEST_CASE("with LISTEN_FDS and no socket on --listen's address the first passed one is served") {
  auto peer = python_peer(
      "systemd_peer.py", {"listen-fds", "--sockets", "2", "--serve", "0", "--", TLSREACTOR_ECHO_BIN,
                          "--listen", "127.0.0.1:1", "--threads", "2"});
  CHECK(output_of(peer) ==
        "listening: tlsreactor-echo: listening on 127.0.0.1:{port0} (2 threads)\n"
        "early client: early\n"
        "exit: 0\n");
}

TEST_CASE("the proxy's systemd units pass systemd-analyze verify and keep their hardening keys") {
  const std::string unit_dir = TLSREACTOR_PROXY_UNIT_DIR;
  std::string service = test_support::TestDir::read(unit_dir + "/tlsreactor-proxy.service");
  const std::string socket = test_support::TestDir::read(unit_dir + "/tlsreactor-proxy.socket");
  for (const char* key :
       {"\nType=notify\n", "\nExecReload=/bin/kill -HUP $MAINPID\n", "\nKillSignal=SIGTERM\n",
        "\nDynamicUser=yes\n", "\nProtectSystem=strict\n", "\nProtectHome=yes\n",
        "\nPrivateTmp=yes\n", "\nNoNewPrivileges=yes\n",
        "\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n",
        "\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n",
        "\nRestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n",
        "\nSystemCallFilter=@system-service\n", "\nLogsDirectory=tlsreactor\n",
        "\nConfigurationDirectory=tlsreactor\n", "\nMemoryDenyWriteExecute=yes\n",
        "\nExecStart=" TLSREACTOR_UNIT_BINDIR "/tlsreactor-proxy --config"})
    CHECK_MESSAGE(service.find(key) != std::string::npos, key << " not in the service unit");
  CHECK(socket.find("\nListenStream=443\n") != std::string::npos);

  if (!std::filesystem::exists("/usr/bin/systemd-analyze") &&
      !std::filesystem::exists("/bin/systemd-analyze")) {
    MESSAGE("systemd-analyze is not installed (Debian package systemd): only the keys checked");
    return;
  }
  // verify wants the commands to exist: the copy runs the proxy from the build tree.
  const std::string installed = TLSREACTOR_UNIT_BINDIR "/tlsreactor-proxy";
  for (auto at = service.find(installed); at != std::string::npos;
       at = service.find(installed, at + 1))
    service.replace(at, installed.size(), TLSREACTOR_PROXY_BIN);
  test_support::TestDir dir;
  dir.write("tlsreactor-proxy.service", service);
  dir.write("tlsreactor-proxy.socket", socket);
  // Any warning (an unknown or misspelt key, a bad value) is printed: the output must be empty.
  integration::Process verify({"sh", "-c", "systemd-analyze verify --man=no \"$0\" \"$1\" 2>&1",
                               dir.path("tlsreactor-proxy.socket"),
                               dir.path("tlsreactor-proxy.service")});
  CHECK(output_of(verify, std::chrono::seconds(60)) == "");
}
