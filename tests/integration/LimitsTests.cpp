// Limits of the shared server options against a real app binary: --max-connections holds
// extra clients in the listen backlog, unserved and without spinning, until a place frees.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/integration/Peers.hpp"

using integration::HelloServer;
using namespace std::chrono_literals;

namespace {

// A plain TCP client of the hello app on loopback.
class Client {
 public:
  explicit Client(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // The backlog completes the connect even while the server does not accept.
    REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void request() {
    const std::string text = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    REQUIRE(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(text.size()));
  }
  // Whatever the server sent within `wait` ("" when nothing came).
  std::string answer(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return {};
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// User + system CPU time of a process, in clock ticks.
long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) in ")": state is field 3, utime 14.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

bool served(const std::string& answer) {
  return answer.rfind("HTTP/1.1 200", 0) == 0;
}

}  // namespace

TEST_CASE("--max-connections: extra clients wait unserved, without CPU spin, then are served") {
  HelloServer server({"--max-connections", "2"});
  Client first(server.port());
  Client second(server.port());
  first.request();
  second.request();
  CHECK(served(first.answer(20s)));
  CHECK(served(second.answer(20s)));

  Client third(server.port());
  third.request();
  const long ticks_before = cpu_ticks(server.process().pid());
  // Two seconds with a client waiting at the limit: it gets nothing, and a server polling the
  // listening socket in a loop would burn those seconds on the CPU.
  const std::string early = third.answer(2s);
  const long used = cpu_ticks(server.process().pid()) - ticks_before;
  CHECK_MESSAGE(early.empty(), "served over the limit: " << early);
  CHECK_MESSAGE(used < sysconf(_SC_CLK_TCK) / 2, "CPU ticks while full: " << used);

  first.close();  // a place frees: the waiting client is accepted and served
  CHECK(served(third.answer(20s)));
  second.close();
  third.close();
  server.stop();
  CHECK_MESSAGE(
      server.process().transcript().find("at its limit of 2 connections") != std::string::npos,
      server.process().transcript());
}
