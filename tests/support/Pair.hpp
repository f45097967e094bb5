// One loop, our listener on 127.0.0.1:0 and one connection to it from our connector, each side
// with a scriptable Recorder, over plain TCP or (server_tls / client_tls set) TLS. run()
// returns once both sides saw on_close (or the watchdog fired).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "reactor/Loop.hpp"
#include "reactor/TcpConnector.hpp"
#include "reactor/TcpListener.hpp"
#include "tests/support/Pattern.hpp"
#include "tests/support/Recorder.hpp"
#include "tests/support/Watchdog.hpp"
#include "tls/TlsTransport.hpp"

namespace test_support {

struct Pair {
  reactor::Loop loop;
  std::optional<Watchdog> dog{std::in_place, loop, std::chrono::seconds(20)};
  std::shared_ptr<Record> server = std::make_shared<Record>();
  std::shared_ptr<Record> client = std::make_shared<Record>();
  std::function<void(Recorder&)> script_server;
  std::function<void(Recorder&)> script_client;
  reactor::ListenOptions listen_options{};
  reactor::ConnectOptions connect_options{};
  std::optional<reactor::TcpListener> listener;
  std::shared_ptr<const tls::Context> server_tls;  // set: the server speaks TLS
  std::shared_ptr<const tls::Context> client_tls;  // set: the client speaks TLS
  tls::TransportOptions server_transport{};
  tls::TransportOptions client_transport{};
  std::string client_host = "localhost";  // the name the TLS client verifies

  void run() {
    reactor::HandlerFactory factory = [this] { return make(server, script_server); };
    if (server_tls) factory = tls::server_factory(server_tls, std::move(factory), server_transport);
    listener.emplace(loop, std::move(factory), listen_options);
    REQUIRE_FALSE(listener->listen(*reactor::Address::from_ip("127.0.0.1", 0)));
    const reactor::HostPort target{client_tls ? client_host : "127.0.0.1",
                                   listener->local_address().port()};
    if (client_tls)
      tls::connect(loop, target, client_tls, make(client, script_client), connect_options,
                   client_transport);
    else
      reactor::TcpConnector(loop, connect_options).connect(target, make(client, script_client));
    loop.run();
  }

  // Releases everything and returns uv_loop_close()'s result.
  int close() {
    listener.reset();
    dog.reset();
    return loop.close();
  }

 private:
  std::unique_ptr<Recorder> make(const std::shared_ptr<Record>& record,
                                 const std::function<void(Recorder&)>& script) {
    auto h = std::make_unique<Recorder>(record);
    if (script) script(*h);
    auto user = std::move(h->closed);
    h->closed = [this, user](reactor::Connection& c, const reactor::Error& e) {
      if (user) user(c, e);
      if (server->closed && client->closed) loop.stop();
    };
    return h;
  }
};

// Scripts `p` for the write-cap tests: the server writes `step`-byte chunks without heeding
// write() returning false (at most 4096 of them) while the client does not read; `peak` is
// the most the server's connection ever had queued, `writes` how many it made.
struct IgnoredBackpressure {
  std::size_t peak = 0;
  std::size_t writes = 0;
  std::string chunk;

  IgnoredBackpressure(Pair& p, std::size_t step) : chunk(pattern(step)) {
    p.script_server = [this, &p](Recorder& h) {
      h.open = [this](reactor::Connection& c) {
        for (; writes < 4096 && !c.is_closing(); ++writes) {
          c.write(chunk);
          peak = std::max(peak, c.stats().queued_bytes);
        }
      };
      h.closed = [&p](reactor::Connection&, const reactor::Error&) {
        if (p.client->conn != nullptr) p.client->conn->resume_reading();  // to see the reset
      };
    };
    p.script_client = [](Recorder& h) {
      h.open = [](reactor::Connection& c) { c.pause_reading(); };
    };
  }
};

}  // namespace test_support
