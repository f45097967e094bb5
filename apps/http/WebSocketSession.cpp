#include "apps/http/WebSocketSession.hpp"

#include <wslay/wslay.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace apps::http {

// Every trampoline recovers the session from wslay's user data; none lets an exception into C.
struct WebSocketSession::Callbacks {
  static ssize_t recv(wslay_event_context_ptr ctx, std::uint8_t* buffer, std::size_t length,
                      int /*flags*/, void* user) noexcept {
    const long n = static_cast<WebSocketSession*>(user)->on_recv(buffer, length);
    if (n > 0) return n;
    // Nothing to hand out now: wslay_event_recv returns and feed() decides what next.
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  static ssize_t send(wslay_event_context_ptr ctx, const std::uint8_t* data, std::size_t length,
                      int /*flags*/, void* user) noexcept {
    auto& self = *static_cast<WebSocketSession*>(user);
    try {
      self.out_.append(reinterpret_cast<const char*>(data), length);
      return static_cast<ssize_t>(length);
    } catch (...) {
      wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
      return -1;
    }
  }
  static void message(wslay_event_context_ptr ctx, const wslay_event_on_msg_recv_arg* arg,
                      void* user) noexcept {
    auto& self = *static_cast<WebSocketSession*>(user);
    try {
      self.on_message(arg->opcode,
                      std::as_bytes(std::span(arg->msg, arg->msg == nullptr ? 0 : arg->msg_length)),
                      arg->status_code);
    } catch (...) {
      self.exception_ = std::current_exception();
      wslay_event_shutdown_read(ctx);
    }
  }
};

void WebSocketSession::FreeContext::operator()(wslay_event_context* ctx) const noexcept {
  wslay_event_context_free(ctx);
}

WebSocketSession::WebSocketSession(Events& events, Options options) : events_(events) {
  wslay_event_callbacks callbacks{};
  callbacks.recv_callback = &Callbacks::recv;
  callbacks.send_callback = &Callbacks::send;
  callbacks.on_msg_recv_callback = &Callbacks::message;
  wslay_event_context_ptr ctx = nullptr;
  if (wslay_event_context_server_init(&ctx, &callbacks, this) != 0) throw std::bad_alloc();
  ctx_.reset(ctx);
  wslay_event_config_set_max_recv_msg_length(ctx, options.max_message_bytes);
}

WebSocketSession::~WebSocketSession() = default;

void WebSocketSession::feed(std::span<const std::byte> bytes) {
  if (state() == State::closed) return;
  // Read in place when nothing is held back from an earlier call (the usual case).
  const bool from_held = !held_.empty();
  if (!from_held) {
    pending_ = bytes;
  } else {
    held_.insert(held_.end(), bytes.begin(), bytes.end());
    pending_ = held_;
  }
  // Failures inside (out of memory, a callback's) disable reading: state() then says closed.
  wslay_event_recv(ctx_.get());
  // wslay queues pongs and close replies itself; what the events sent is serialized already.
  flush();
  if (exception_) {
    held_.clear();
    pending_ = {};
    fail(ws_close::internal_error);
    std::rethrow_exception(std::exchange(exception_, nullptr));
  }
  if (gate_refused_) fail(ws_close::protocol_error);

  // Keep what the gate holds back (a partial header or control frame) for the next call.
  if (state() == State::closed) {
    held_.clear();
  } else if (from_held) {
    held_.erase(held_.begin(), held_.end() - static_cast<std::ptrdiff_t>(pending_.size()));
  } else {
    held_.assign(pending_.begin(), pending_.end());
  }
  pending_ = {};
}

long WebSocketSession::on_recv(std::uint8_t* buffer, std::size_t length) {
  if (gate_refused_) return 0;
  const auto decision = gate_.next(pending_, length);
  switch (decision.verdict) {
    case WebSocketFrameGate::Verdict::release:
      std::memcpy(buffer, pending_.data(), decision.release);
      pending_ = pending_.subspan(decision.release);
      return static_cast<long>(decision.release);
    case WebSocketFrameGate::Verdict::refuse:
      gate_refused_ = true;
      return 0;
    case WebSocketFrameGate::Verdict::wait:
      break;
  }
  return 0;
}

void WebSocketSession::on_message(std::uint8_t opcode, std::span<const std::byte> payload,
                                  std::uint16_t code) {
  switch (opcode) {
    case WSLAY_TEXT_FRAME:
    case WSLAY_BINARY_FRAME:
      events_.on_message(static_cast<Opcode>(opcode), payload);
      break;
    case WSLAY_CONNECTION_CLOSE: {
      const auto reason = payload.size() > 2 ? payload.subspan(2) : std::span<const std::byte>{};
      events_.on_peer_close(
          code == 0 ? ws_close::no_status : code,
          std::string_view(reinterpret_cast<const char*>(reason.data()), reason.size()));
      break;
    }
    default:  // ping (wslay queued the pong) or pong (nothing to do)
      break;
  }
  // Out now, before wslay reads the next frame: once a close is queued (a later frame that
  // fails the connection, or the peer's own close), wslay drops the control frames still
  // queued, so a pong left waiting would be lost or not depending on how the input was split.
  flush();
}

bool WebSocketSession::send(Opcode opcode, std::span<const std::byte> payload) {
  wslay_event_msg message{};
  message.opcode = static_cast<std::uint8_t>(opcode);
  message.msg = reinterpret_cast<const std::uint8_t*>(payload.data());
  message.msg_length = payload.size();
  const int result = wslay_event_queue_msg(ctx_.get(), &message);
  if (result == WSLAY_ERR_NOMEM) throw std::bad_alloc();
  if (result != 0) return false;
  flush();
  return true;
}

void WebSocketSession::close(std::uint16_t code, std::string_view reason) {
  reason = reason.substr(0, 123);
  wslay_event_queue_close(ctx_.get(), code, reinterpret_cast<const std::uint8_t*>(reason.data()),
                          reason.size());
  flush();
}

void WebSocketSession::fail(std::uint16_t code) {
  // A close already queued or sent keeps its code; reading stops either way (RFC 6455 7.1.7).
  wslay_event_queue_close(ctx_.get(), code, nullptr, 0);
  wslay_event_shutdown_read(ctx_.get());
  flush();
}

void WebSocketSession::flush() {
  // Our send callback takes everything, so one call serializes the whole queue; it can fail
  // only when out_ cannot grow, and then the connection cannot go on anyway.
  if (wslay_event_send(ctx_.get()) != 0) wslay_event_shutdown_read(ctx_.get());
}

std::string WebSocketSession::take_output() {
  return std::exchange(out_, {});
}

WebSocketSession::State WebSocketSession::state() const {
  if (wslay_event_get_read_enabled(ctx_.get()) == 0) return State::closed;
  if (wslay_event_get_close_sent(ctx_.get()) != 0) return State::closing;
  return State::open;
}

std::uint16_t WebSocketSession::close_code_sent() const {
  if (wslay_event_get_close_sent(ctx_.get()) == 0) return 0;
  return wslay_event_get_status_code_sent(ctx_.get());
}

}  // namespace apps::http
