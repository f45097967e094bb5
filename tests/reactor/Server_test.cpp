#include <doctest/doctest.h>

#include <mutex>
#include <set>
#include <thread>

#include "apps/echo/EchoHandler.hpp"
#include "reactor/Loop.hpp"
#include "reactor/Server.hpp"
#include "reactor/TcpConnector.hpp"
#include "tests/support/Recorder.hpp"
#include "tests/support/Watchdog.hpp"

using namespace std::chrono_literals;
using test_support::Record;
using test_support::Recorder;

namespace {

// Runs `count` echo clients against `port` on a client loop; each sends `message`, half-closes
// and records what came back.
std::vector<std::shared_ptr<Record>> run_clients(std::uint16_t port, int count,
                                                 const std::string& message,
                                                 std::function<void(reactor::Loop&)> also = {}) {
  reactor::Loop loop;
  std::vector<std::shared_ptr<Record>> records;
  {
    test_support::Watchdog dog(loop, 20s);
    int open_clients = count;
    for (int i = 0; i < count; ++i) {
      auto record = records.emplace_back(std::make_shared<Record>());
      auto h = std::make_unique<Recorder>(record);
      h->open = [&message](reactor::Connection& c) {
        c.write(message);
        c.shutdown();
      };
      h->closed = [&](reactor::Connection&, const reactor::Error&) {
        if (--open_clients == 0) loop.stop();
      };
      reactor::TcpConnector(loop).connect({"127.0.0.1", port}, std::move(h));
    }
    if (also) also(loop);
    loop.run();
  }
  CHECK(loop.close() == 0);
  return records;
}

}  // namespace

TEST_CASE("a two-loop server spreads clients over both loops and stop() returns run() with 0") {
  std::mutex mutex;
  std::set<std::thread::id> threads;
  reactor::ServerOptions options;
  options.listen = *reactor::Address::from_ip("127.0.0.1", 0);
  options.threads = 2;
  options.handle_signals = false;
  reactor::Server server(options, [&] {
    const std::lock_guard lock(mutex);
    threads.insert(std::this_thread::get_id());
    return std::make_unique<apps::echo::EchoHandler>();
  });
  REQUIRE_FALSE(server.listen());
  int exit_code = -1;
  std::thread runner([&] { exit_code = server.run(); });
  const auto records = run_clients(server.local_address().port(), 40, "ping");
  for (const auto& r : records) {
    CHECK(r->data == "ping");
    CHECK_MESSAGE(!r->error, r->error.message());
  }
  server.stop();
  runner.join();
  CHECK(exit_code == 0);
  CHECK(threads.size() == 2);  // SO_REUSEPORT hashing: all 40 on one loop has odds of 2^-39
}

TEST_CASE("a drain aborts connections still open at its deadline, then run() returns 0") {
  reactor::ServerOptions options;
  options.listen = *reactor::Address::from_ip("127.0.0.1", 0);
  options.handle_signals = false;
  options.drain_timeout = 300ms;
  auto server_record = std::make_shared<Record>();
  reactor::Server server(options, [&] {
    auto h = std::make_unique<Recorder>(server_record);
    h->data = [](reactor::Connection& c, std::span<const std::byte> d) { c.write(d); };
    return h;
  });
  REQUIRE_FALSE(server.listen());
  int exit_code = -1;
  std::thread runner([&] { exit_code = server.run(); });

  reactor::Loop loop;
  auto client = std::make_shared<Record>();
  {
    test_support::Watchdog dog(loop, 20s);
    auto h = std::make_unique<Recorder>(client);
    // Stay connected without finishing: only the drain deadline can end this connection.
    h->open = [&](reactor::Connection& c) { c.write("x"); };
    h->data = [&](reactor::Connection&, std::span<const std::byte>) { server.stop(); };
    h->closed = [&](reactor::Connection&, const reactor::Error&) { loop.stop(); };
    reactor::TcpConnector(loop).connect({"127.0.0.1", server.local_address().port()}, std::move(h));
    loop.run();
  }
  CHECK(loop.close() == 0);
  runner.join();
  CHECK(exit_code == 0);
  CHECK(client->data == "x");
  CHECK(server_record->error.code() == reactor::Errc::aborted);
  CHECK((client->error.code() == std::errc::connection_reset));
}

namespace {

// Answers "new:" and the bytes it received: tells a replaced factory's handlers from echoes.
class Tagging final : public reactor::Handler {
 public:
  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override {
    conn.write("new:");
    conn.write(data);
  }
};

}  // namespace

TEST_CASE("replace_factory() gives connections accepted afterwards the new factory's handlers") {
  reactor::ServerOptions options;
  options.listen = *reactor::Address::from_ip("127.0.0.1", 0);
  options.threads = 2;
  options.handle_signals = false;
  reactor::Server server(options, [] { return std::make_unique<apps::echo::EchoHandler>(); });
  REQUIRE_FALSE(server.listen());
  std::thread runner([&] { server.run(); });
  const auto port = server.local_address().port();
  for (const auto& r : run_clients(port, 4, "ping")) CHECK(r->data == "ping");
  // From another thread than the loops', as a SIGHUP on loop 0 does for loop 1.
  server.replace_factory([] { return std::make_unique<Tagging>(); });
  for (const auto& r : run_clients(port, 4, "ping")) CHECK(r->data == "new:ping");
  server.stop();
  runner.join();
}

TEST_CASE("an extra listener answers through a drain and its open connection does not hold it") {
  reactor::ServerOptions options;
  options.listen = *reactor::Address::from_ip("127.0.0.1", 0);
  options.handle_signals = false;
  options.drain_timeout = 20s;  // only the main connection's close may end this drain
  reactor::Server* running = nullptr;
  // Which server-side connection ended first (the server's loop thread; read after join). The
  // client side cannot tell: both FINs may arrive in one poll of its loop.
  std::vector<std::string> order;
  // The extra listener's handler answers each byte with whether the server drains.
  reactor::ExtraListener extra;
  extra.address = *reactor::Address::from_ip("127.0.0.1", 0);
  extra.factory = [&running, &order] {
    auto h = std::make_unique<Recorder>(std::make_shared<Record>());
    h->data = [&running](reactor::Connection& c, std::span<const std::byte>) {
      c.write(running->draining() ? "1" : "0");
    };
    h->closed = [&order](reactor::Connection&, const reactor::Error&) { order.push_back("admin"); };
    return h;
  };
  options.extra_listeners.push_back(extra);
  reactor::Server server(options, [&order] {
    auto h = std::make_unique<Recorder>(std::make_shared<Record>());
    h->data = [](reactor::Connection& c, std::span<const std::byte> d) { c.write(d); };
    h->closed = [&order](reactor::Connection&, const reactor::Error&) { order.push_back("main"); };
    return h;
  });
  running = &server;
  REQUIRE_FALSE(server.listen());
  int exit_code = -1;
  std::thread runner([&] { exit_code = server.run(); });

  reactor::Loop loop;
  auto admin = std::make_shared<Record>();
  auto main = std::make_shared<Record>();
  reactor::Connection* admin_conn = nullptr;
  {
    test_support::Watchdog dog(loop, 20s);
    auto h = std::make_unique<Recorder>(admin);
    h->open = [&](reactor::Connection& c) {
      admin_conn = &c;
      c.write("?");
    };
    h->data = [&](reactor::Connection&, std::span<const std::byte>) {
      if (admin->data == "0") {  // served before the drain: now a main connection
        auto m = std::make_unique<Recorder>(main);
        m->open = [](reactor::Connection& c) { c.write("x"); };
        m->data = [&](reactor::Connection& c, std::span<const std::byte>) {
          server.stop();
          admin_conn->write("?");  // asked during the drain, on the same connection
          c.close();               // the only connection the drain waits for
        };
        reactor::TcpConnector(loop).connect({"127.0.0.1", server.local_address().port()},
                                            std::move(m));
      }
    };
    h->peer_closed = [](reactor::Connection& c) { c.close(); };
    h->closed = [&](reactor::Connection&, const reactor::Error&) { loop.stop(); };
    reactor::TcpConnector(loop).connect({"127.0.0.1", server.extra_address(0).port()},
                                        std::move(h));
    loop.run();
  }
  CHECK(loop.close() == 0);
  runner.join();
  CHECK(exit_code == 0);
  CHECK(admin->data == "01");
  CHECK(main->data == "x");
  // The admin connection stayed open until the drain had finished and loop 0 closed.
  CHECK(order == std::vector<std::string>{"main", "admin"});
}
