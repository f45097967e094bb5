// A TCP connection: the plain-TCP Connection handed to handlers. Private to the reactor.
//
// Lifetime: a Stream owns itself (self_) from creation until the close callback of its uv_tcp_t
// (and any pending getaddrinfo) has run; then it calls Handler::on_close, destroys the handler
// and releases itself. Nothing else frees it, so a handler may close it from any callback.
#pragma once

#include <uv.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "reactor/Connection.hpp"
#include "reactor/Handler.hpp"
#include "reactor/LoopImpl.hpp"
#include "reactor/TimerWheel.hpp"
#include "reactor/detail/AcceptGate.hpp"
#include "reactor/detail/HandleOwner.hpp"

namespace reactor::detail {

class Stream final : public Connection,
                     public LoopMember,
                     private Deadline,
                     public HandleOwner,
                     public std::enable_shared_from_this<Stream> {
 public:
  // Creates a stream with an initialised (not yet connected) TCP handle, registered on the loop.
  static std::shared_ptr<Stream> create(Loop& loop, std::unique_ptr<Handler> handler,
                                        const ConnectionOptions& options);
  Stream(Loop& loop, std::unique_ptr<Handler> handler, const ConnectionOptions& options);
  ~Stream();

  uv_tcp_t* tcp() noexcept { return &tcp_; }
  // Server side: the listener's place this connection takes until it has closed.
  void hold(std::unique_ptr<AcceptSlot> slot) noexcept { slot_ = std::move(slot); }
  // Server side, after uv_accept succeeded (status 0) or failed: open or fail the stream.
  // `has_nodelay`: the socket inherited TCP_NODELAY from its listener.
  void accepted(int status, bool has_nodelay);
  // Client side: resolve (unless an IP literal), then try each address until one connects.
  void connect(const HostPort& target, std::chrono::milliseconds timeout);

  // Connection
  bool write(std::span<const std::byte> data) override;
  using Connection::write;
  void shutdown() override;
  bool write_last(std::span<const std::byte> data) override;
  using Connection::write_last;
  void close() override;
  void abort() override;
  void pause_reading() override;
  void resume_reading() override;
  void set_idle_timeout(std::chrono::milliseconds timeout) override;
  void set_write_limits(WriteLimits limits) override { options_.limits = limits; }
  void request_drain(std::size_t queued) override;
  Address peer_address() const override { return peer_; }
  Address local_address() const override;
  ConnectionStats stats() const override { return stats_; }
  bool is_closing() const override { return state_ == State::closing || state_ == State::closed; }
  Loop& loop() const override { return loop_; }

 private:
  enum class State : std::uint8_t { connecting, open, closing, closed };
  struct ConnectAttempt;

  // LoopMember, Deadline, HandleOwner
  Connection& connection() noexcept override { return *this; }
  void notify_server_stopping() noexcept override;
  void on_deadline() noexcept override;
  void on_loop_closing() noexcept override;

  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* handle, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_write(uv_write_t* req, int status) noexcept;
  static void on_closed(uv_handle_t* handle) noexcept;
  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result) noexcept;
  static void on_connected(uv_connect_t* req, int status) noexcept;

  void open();
  void try_next_address();
  void connect_failed(Error error);
  void received(std::span<const std::byte> data);
  void peer_finished();
  void enqueue(std::span<const std::byte> data);
  // A write past options_.max_buffered: the connection is aborted rather than grow the queue.
  void over_cap(std::size_t refused);
  void start_write();
  void wrote(int status);
  void send_fin();
  void fin_sent(int status);
  void update_reading();
  void touch() noexcept;
  void maybe_finish_both_ways();
  // The one way out: records `error` (unless one is already recorded) and closes the handle.
  void close_handle(const Error& error, bool reset);
  void finish() noexcept;
  // Runs a handler callback. An exception must not unwind through libuv: it aborts this
  // connection (RST) and is logged; the loop and every other connection carry on.
  template <typename Fn>
  void up_call(Fn&& fn) noexcept;

  Loop& loop_;
  LoopImpl& impl_;
  uv_tcp_t tcp_{};
  std::unique_ptr<Handler> handler_;
  std::shared_ptr<Stream> self_;
  ConnectionOptions options_;
  std::unique_ptr<ConnectAttempt> attempt_;  // only while connecting
  std::unique_ptr<AcceptSlot> slot_;         // given back once on_close has run
  Address peer_;
  std::unique_ptr<Error> error_;  // why it ended, once known (most connections never fail)
  ConnectionStats stats_;

  // Write queue: one uv_write in flight covering the first inflight_chunks_ chunks. A vector,
  // not a std::deque: an empty deque still holds a map and a 512-byte node, and this queue is
  // empty whenever the kernel takes the writes at once (uv_try_write).
  std::vector<std::vector<std::byte>> queue_;
  std::size_t front_offset_ = 0;
  std::size_t inflight_chunks_ = 0;
  std::size_t inflight_bytes_ = 0;
  // The write request exists only while the queue is not empty (an idle connection would
  // otherwise carry it). The FIN needs none: shutdown(2) runs at once (send_fin).
  std::unique_ptr<uv_write_t> write_req_;
  std::size_t drain_at_ = 0;  // with drain_requested_: the queue size that calls on_drain

  State state_ = State::connecting;
  // Our FIN: owed once the queue has drained (shutdown(), write_last(), close()), then sent.
  // shutdown(2) runs at once (send_fin), so sent is also done: there is no state between. The
  // peer's FIN is peer_eof_, apart: it may come in any of these.
  enum class Fin : std::uint8_t { none, owed, sent };
  Fin fin_ = Fin::none;
  bool handle_closed_ = false;
  bool reconnecting_ = false;
  bool writing_ = false;
  bool reading_ = false;
  bool user_paused_ = false;
  bool peer_eof_ = false;
  // Backpressure towards this stream's own handler: write() went over the high-water mark, so
  // on_drain is owed at the low one. A layer above that keeps its own (TlsTransport) asks with
  // request_drain() instead, and owns its above-high state itself.
  bool above_high_ = false;
  bool drain_requested_ = false;  // request_drain(): on_drain owed at drain_at_
  bool has_nodelay_ = false;
};

}  // namespace reactor::detail
