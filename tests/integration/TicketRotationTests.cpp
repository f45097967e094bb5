// Session ticket keys rotated at run time (SIGHUP re-reads --ticket-key files), as a fleet
// behind a load balancer does it: no restart, and tickets under any listed key keep resuming.
#include <doctest/doctest.h>

#include <openssl/rand.h>

#include <string>

#include "tests/integration/Peers.hpp"
#include "tests/support/TestDir.hpp"

TEST_CASE("ticket keys rotate on SIGHUP: a listed old key still resumes, a dropped one does not") {
  for (const bool tls12 : {false, true}) {
    CAPTURE(tls12);
    test_support::TestDir dir;
    std::string key_a(80, '\0');
    REQUIRE(RAND_bytes(reinterpret_cast<unsigned char*>(key_a.data()), 80) == 1);
    const std::string current = dir.write("current.key", key_a);
    const std::string previous = dir.write("previous.key", key_a);
    integration::TlsEchoServer server(dir.path("certs"),
                                      {"--ticket-key", current + "," + previous});
    std::vector<std::string> args{"--port",       server.port_text(),
                                  "--ca",         server.ca_file(),
                                  "--current",    current,
                                  "--previous",   previous,
                                  "--server-pid", std::to_string(server.process().pid())};
    if (tls12) args.push_back("--tls12");
    auto peer = integration::python_peer("ticket_rotation.py", args);
    integration::check_peer_succeeds(peer, std::chrono::seconds(30));
    server.stop();
  }
}
