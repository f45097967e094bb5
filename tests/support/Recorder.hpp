// A handler that records what happened to its connection and lets a test script each callback.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "reactor/Handler.hpp"

namespace test_support {

struct Record {
  bool opened = false;
  bool peer_closed = false;
  bool closed = false;
  int drains = 0;
  std::string data;
  reactor::Error error;
  reactor::ConnectionStats stats_at_close;
  reactor::Connection* conn = nullptr;  // valid between on_open and on_close
};

class Recorder final : public reactor::Handler {
 public:
  explicit Recorder(std::shared_ptr<Record> record) : r_(std::move(record)) {}

  std::function<void(reactor::Connection&)> open;
  std::function<void(reactor::Connection&, std::span<const std::byte>)> data;
  std::function<void(reactor::Connection&)> drain;
  std::function<void(reactor::Connection&)> peer_closed;
  std::function<void(reactor::Connection&, const reactor::Error&)> closed;

  void on_open(reactor::Connection& c) override {
    r_->opened = true;
    r_->conn = &c;
    if (open) open(c);
  }
  void on_data(reactor::Connection& c, std::span<const std::byte> d) override {
    r_->data.append(reinterpret_cast<const char*>(d.data()), d.size());
    if (data) data(c, d);
  }
  void on_drain(reactor::Connection& c) override {
    ++r_->drains;
    if (drain) drain(c);
  }
  void on_peer_closed(reactor::Connection& c) override {
    r_->peer_closed = true;
    if (peer_closed)
      peer_closed(c);
    else
      c.close();
  }
  void on_close(reactor::Connection& c, const reactor::Error& e) override {
    r_->closed = true;
    r_->error = e;
    r_->stats_at_close = c.stats();
    r_->conn = nullptr;
    if (closed) closed(c, e);
  }

 private:
  std::shared_ptr<Record> r_;
};

}  // namespace test_support
