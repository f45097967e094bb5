#include "apps/proxy/Tunnel.hpp"

#include <utility>

#include "apps/proxy/ClientRecord.hpp"

namespace apps::proxy {
namespace {

// Client bytes kept while the upstream side connects; past this the client's reading pauses.
constexpr std::size_t max_early_bytes = 64 * 1024;

std::span<const std::byte> as_bytes(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

}  // namespace

Tunnel::Tunnel(reactor::Connection& client, Setup setup, std::string_view early)
    : setup_(std::move(setup)), early_(early) {
  conn(Side::client) = &client;
}

// Both sides have closed before the last share goes; a tunnel whose upstream side never reported
// (its handler was destroyed without on_close) still ends once.
Tunnel::~Tunnel() {
  if (state_ != State::ended) move_to(State::ended);
}

void Tunnel::join(reactor::Connection& upstream, int status, std::string_view to_client,
                  std::string_view early_from_upstream) {
  conn(Side::upstream) = &upstream;
  if (state_ != State::connecting || conn(Side::client) == nullptr) {
    move_to(State::closing);  // the client left while the destination connected
    return upstream.close();
  }
  setup_.record.status = status;
  move_to(State::relaying);
  for (reactor::Connection* c : conns_) c->set_idle_timeout(setup_.idle_timeout);
  if (!to_client.empty()) send(Side::upstream, to_client);
  if (!early_.empty()) send(Side::client, std::exchange(early_, {}));
  if (!early_from_upstream.empty()) send(Side::upstream, early_from_upstream);
  // Either side may have been paused for the switch (CONNECT's client while it connected).
  for (reactor::Connection* c : conns_) c->resume_reading();
}

void Tunnel::refuse(int status, std::string_view answer) {
  setup_.record.status = status;
  reactor::Connection* client = conn(Side::client);
  if (client == nullptr) return move_to(State::ended);
  move_to(State::closing);
  send(Side::upstream, answer);
  client->close();
}

void Tunnel::data(Side from, std::span<const std::byte> bytes) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (state_ == State::connecting) {
    if (from != Side::client) return;
    early_.append(text);
    // Bounded whoever let the client read on meanwhile (a driver handing over a connection it
    // had paused resumes it): join() resumes reading.
    if (early_.size() >= max_early_bytes && conn(Side::client) != nullptr)
      conn(Side::client)->pause_reading();
    return;
  }
  send(from, text);
}

// Relays one direction: what `from` sent goes to the other side; when that one's queue is
// full, `from` pauses until drain().
void Tunnel::send(Side from, std::string_view bytes) {
  reactor::Connection* to = conn(other(from));
  if (to == nullptr || to->is_closing()) return;
  if (from == Side::client) {
    setup_.record.bytes_in += bytes.size();
  } else {
    setup_.record.bytes_out += bytes.size();
  }
  if (!to->write(as_bytes(bytes)) && conn(from) != nullptr) conn(from)->pause_reading();
}

void Tunnel::drain(Side side) {
  if (state_ == State::connecting) return;  // a CONNECT's client stays paused until join
  if (reactor::Connection* source = conn(other(side))) source->resume_reading();
}

void Tunnel::peer_closed(Side side) {
  const bool client = side == Side::client;
  switch (state_) {
    case State::connecting:
      // The client gave up before the destination answered: nothing to relay its FIN to.
      if (client) conn(Side::client)->close();
      return;
    case State::relaying:
      // Its FIN goes on to the other side; the other direction keeps flowing.
      conn(other(side))->shutdown();
      return move_to(client ? State::client_done : State::upstream_done);
    case State::client_done:
    case State::upstream_done:
      // Both have finished sending: what is queued goes out, then both close.
      if ((state_ == State::client_done) != client) close_both();
      return;
    case State::closing:
    case State::ended:
      return;
  }
}

void Tunnel::closed(Side side) {
  conn(side) = nullptr;
  reactor::Connection* remaining = conn(other(side));
  if (remaining == nullptr) {
    // A CONNECT whose client left while it connected ends when the connect does.
    if (state_ != State::connecting) move_to(State::ended);
    return;
  }
  if (state_ == State::connecting) return;
  // Either side ending, cleanly or not, ends the tunnel: the other gets what is queued for it,
  // then its close (after an abort or a reset the other side's own reads fail as well).
  move_to(State::closing);
  remaining->close();
}

void Tunnel::close_both() {
  move_to(State::closing);
  for (reactor::Connection* c : conns_)
    if (c != nullptr) c->close();
}

void Tunnel::move_to(State next) {
  if (state_ == State::ended) return;
  state_ = next;
  Metrics& metrics = *setup_.metrics;
  if (next == State::relaying && !counted_) {
    counted_ = true;
    metrics.tunnel_opened(setup_.kind);
  }
  if (next != State::ended) return;
  if (counted_) metrics.tunnel_closed();
  finish_request(metrics, setup_.access_log, setup_.record, setup_.record.status, setup_.started);
}

}  // namespace apps::proxy
