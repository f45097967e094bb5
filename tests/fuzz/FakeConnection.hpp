// A reactor::Connection in memory for harnesses that drive a Handler without sockets: what the
// handler writes is kept in `out`, and a write above the high-water mark reports a full queue
// until the harness plays the peer reading it (drain()). Nothing here runs a loop; loop() is
// the one the harness made, for what a handler asks of it (TurnTicket admission).
#pragma once

#include <cstdlib>
#include <string>

#include "reactor/Connection.hpp"
#include "reactor/Loop.hpp"

namespace fuzz {

class FakeConnection final : public reactor::Connection {
 public:
  FakeConnection(reactor::Loop& loop, std::size_t high) : loop_(loop), high_(high) {}

  std::string out;         // everything written, in order
  std::size_t writes = 0;  // write() calls that took bytes
  std::size_t queued = 0;  // written since the peer last read
  std::size_t max_queued = 0;
  bool full = false;                   // write() returned false; no drain() since
  std::size_t written_while_full = 0;  // the most written in one full episode
  bool reading_paused = false;
  bool closing = false;
  bool aborted = false;

  bool write(std::span<const std::byte> data) override {
    if (closing) return true;  // dropped, as a real connection does
    out.append(reinterpret_cast<const char*>(data.data()), data.size());
    ++writes;
    queued += data.size();
    max_queued = std::max(max_queued, queued);
    if (full) {
      episode_ += data.size();
      written_while_full = std::max(written_while_full, episode_);
    }
    full = queued > high_;
    return !full;
  }
  // The peer reads what is queued. True when the handler is owed on_drain.
  bool drain() {
    queued = 0;
    episode_ = 0;
    return std::exchange(full, false);
  }

  void shutdown() override {}
  void close() override { closing = true; }
  void abort() override { closing = aborted = true; }
  void pause_reading() override { reading_paused = true; }
  void resume_reading() override { reading_paused = false; }
  void set_idle_timeout(std::chrono::milliseconds) override {}
  void set_write_limits(reactor::WriteLimits) override {}
  reactor::Address peer_address() const override { return {}; }
  reactor::Address local_address() const override { return {}; }
  reactor::ConnectionStats stats() const override { return {}; }
  bool is_closing() const override { return closing; }
  reactor::Loop& loop() const override { return loop_; }

 private:
  reactor::Loop& loop_;
  std::size_t high_;
  std::size_t episode_ = 0;
};

}  // namespace fuzz
