// A complete server: replies to every line with the line in upper case.
#include <cctype>
#include <string>

#include "reactor/Server.hpp"

class Uppercase : public reactor::Handler {
 public:
  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override {
    std::string reply;
    for (std::byte b : data) reply += static_cast<char>(std::toupper(static_cast<int>(b)));
    if (!conn.write(reply)) conn.pause_reading();  // backpressure: wait for on_drain
  }
  void on_drain(reactor::Connection& conn) override { conn.resume_reading(); }
};

int main() {
  reactor::ServerOptions options;
  options.listen = *reactor::Address::from_ip("127.0.0.1", 7001);
  reactor::Server server(options, [] { return std::make_unique<Uppercase>(); });
  return server.run();  // until SIGINT/SIGTERM, then drains and returns 0
}
