// Echoes every byte back, with backpressure: when the write queue passes its high-water mark
// the handler stops reading until the queue drains, so a peer that sends without reading
// cannot make us buffer without bound.
#pragma once

#include <memory>

#include "reactor/Handler.hpp"

namespace apps::echo {

class EchoHandler final : public reactor::Handler {
 public:
  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override {
    if (!conn.write(data)) conn.pause_reading();
  }
  void on_drain(reactor::Connection& conn) override { conn.resume_reading(); }
  // The peer's FIN: everything it sent is already queued back; close() flushes it, then FINs.
  void on_peer_closed(reactor::Connection& conn) override { conn.close(); }
  // A drain lets an echo in flight finish; the connection ends when its client closes.
};

inline reactor::HandlerFactory echo_factory() {
  return [] { return std::make_unique<EchoHandler>(); };
}

}  // namespace apps::echo
