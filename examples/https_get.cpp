// A TLS client on the same Handler API: fetches a URL path over HTTPS/1.1, verifying the
// server against a CA file (for the demo: the generated development CA), and prints the
// response. Usage: example-https-get HOST:PORT [PATH] [CA_FILE]
#include <iostream>
#include <string>

#include "reactor/Loop.hpp"
#include "tls/TlsTransport.hpp"

class Fetch : public reactor::Handler {
 public:
  // `ok` outlives the handler, which is destroyed right after on_close.
  Fetch(std::string host, std::string path, bool& ok)
      : host_(std::move(host)), path_(std::move(path)), ok_(ok) {}
  void on_open(reactor::Connection& conn) override {
    const tls::TlsInfo* tls = tls::info(conn);
    std::cerr << "connected: " << tls->protocol << " " << tls->cipher << ", ALPN '" << tls->alpn
              << "'\n";
    conn.write("GET " + path_ + " HTTP/1.1\r\nHost: " + host_ + "\r\nConnection: close\r\n\r\n");
  }
  void on_data(reactor::Connection&, std::span<const std::byte> data) override {
    std::cout.write(reinterpret_cast<const char*>(data.data()),
                    static_cast<std::streamsize>(data.size()));
  }
  void on_close(reactor::Connection&, const reactor::Error& error) override {
    if (error) std::cerr << "error: " << error.message() << "\n";
    ok_ = !error;
  }

 private:
  std::string host_, path_;
  bool& ok_;
};

int main(int argc, char** argv) {
  const auto target = argc > 1 ? reactor::HostPort::parse(argv[1]) : std::nullopt;
  if (!target) {
    std::cerr << "usage: example-https-get HOST:PORT [PATH] [CA_FILE]\n";
    return 2;
  }
  tls::ClientConfig config;  // verification on: the system store, or the CA file given
  config.ca_file = argc > 3 ? argv[3] : "";
  config.alpn = {"http/1.1"};
  auto made = tls::Context::client(config);
  if (!made) {
    std::cerr << "error: " << made.error().message() << "\n";
    return 1;
  }
  std::shared_ptr<const tls::Context> context = *made;
  reactor::Loop loop;
  bool ok = false;
  auto fetch = std::make_unique<Fetch>(target->host, argc > 2 ? argv[2] : "/", ok);
  reactor::ConnectOptions connect_options;
  connect_options.timeout = std::chrono::seconds(10);
  tls::connect(loop, *target, context, std::move(fetch), connect_options);
  loop.run();  // until the connection closed
  return ok ? 0 : 1;
}
