#include "reactor/TcpListener.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "reactor/Log.hpp"
#include "reactor/Loop.hpp"
#include "reactor/Stream.hpp"
#include "reactor/detail/OwnedHandleImpl.hpp"

namespace reactor {

TcpListener::TcpListener(Loop& loop, HandlerFactory factory, ListenOptions options)
    : loop_(loop),
      factory_(std::move(factory)),
      options_(options),
      gate_(std::make_shared<detail::AcceptGate>()) {
  gate_->limit = options_.max_connections;
}

TcpListener::~TcpListener() {
  stop_accepting();
}

Error TcpListener::listen(const Address& address) {
  const std::string context = "listen " + address.to_string();
  if (!address.valid()) return Error(Errc::bad_address, context);
  uv_tcp_t* tcp = handle_.allocate(this);
  // init_ex creates the socket now, so SO_REUSEPORT can be set before bind (libuv 1.44 has no
  // flag for it).
  if (const int rc =
          uv_tcp_init_ex(loop_.impl().uv(), tcp, static_cast<unsigned>(address.family()));
      rc != 0) {
    handle_.discard();
    return Error(uv_error(rc), context);
  }
  handle_.initialized();
  gate_->on_freed = [this] { slot_freed(); };
  auto fail = [&](int rc) {
    handle_.close();
    return Error(uv_error(rc), context);
  };
  if (options_.reuse_port) {
    uv_os_fd_t fd{};
    uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd);
    const int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
      return fail(uv_translate_sys_error(errno));
  }
  // Linux copies TCP_NODELAY from a listening socket to the sockets it accepts: set once here,
  // it saves every accepted connection its own setsockopt.
  nodelay_inherited_ = uv_tcp_nodelay(tcp, 1) == 0;
  if (const int rc = uv_tcp_bind(tcp, address.sockaddr_ptr(), 0); rc != 0) return fail(rc);
  if (const int rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), options_.backlog,
                               &TcpListener::on_connection);
      rc != 0)
    return fail(rc);
  return {};
}

Error TcpListener::adopt(int fd) {
  const std::string context = "listen on passed socket " + std::to_string(fd);
  uv_tcp_t* tcp = handle_.allocate(this);
  if (const int rc = uv_tcp_init(loop_.impl().uv(), tcp); rc != 0) {
    handle_.discard();
    ::close(fd);
    return Error(uv_error(rc), context);
  }
  handle_.initialized();
  gate_->on_freed = [this] { slot_freed(); };
  if (const int rc = uv_tcp_open(tcp, fd); rc != 0) {
    ::close(fd);
    handle_.close();
    return Error(uv_error(rc), context);
  }
  nodelay_inherited_ = uv_tcp_nodelay(tcp, 1) == 0;
  // listen() again on a listening socket only sets the backlog; libuv needs the call to start
  // watching it.
  if (const int rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), options_.backlog,
                               &TcpListener::on_connection);
      rc != 0) {
    handle_.close();
    return Error(uv_error(rc), context);
  }
  return {};
}

Address TcpListener::local_address() const {
  if (!handle_) return {};
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getsockname(handle_.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
}

void TcpListener::close() {
  stop_accepting();
}

void TcpListener::on_loop_closing() noexcept {
  stop_accepting();
}

void TcpListener::stop_accepting() {
  // Connections that close from now on must not reach back into a closed listener.
  gate_->on_freed = nullptr;
  waiting_ = false;
  handle_.close();
}

void TcpListener::on_connection(uv_stream_t* server, int status) noexcept {
  auto* self = detail::owner_of<TcpListener>(server);
  if (self == nullptr) return;
  if (status != 0) {
    // EMFILE and friends: libuv already sheds the pending connection; say so and carry on.
    log::warn("accept on " + self->local_address().to_string() + ": " + uv_strerror(status));
    return;
  }
  self->accept_one();
}

void TcpListener::accept_one() {
  if (gate_->full()) {
    // Not calling uv_accept leaves the ready connection with libuv, which then stops polling
    // the listening socket: no busy loop, and the backlog keeps the rest waiting.
    if (!waiting_)
      log::warn("listener " + local_address().to_string() + " at its limit of " +
                std::to_string(gate_->limit) + " connections: accepting paused");
    waiting_ = true;
    return;
  }
  waiting_ = false;
  std::unique_ptr<Handler> handler;
  try {
    if (factory_) handler = factory_();
  } catch (const std::exception& e) {
    log::error(std::string("handler factory threw: ") + e.what());
  }
  auto stream = detail::Stream::create(loop_, std::move(handler), options_.connection);
  stream->hold(std::make_unique<detail::AcceptSlot>(gate_));
  const int rc = uv_accept(reinterpret_cast<uv_stream_t*>(handle_.get()),
                           reinterpret_cast<uv_stream_t*>(stream->tcp()));
  ++accepted_;
  stream->accepted(rc, nodelay_inherited_);
}

void TcpListener::slot_freed() {
  // uv_accept takes the connection libuv holds and restarts polling for the next ones.
  if (waiting_ && handle_) accept_one();
}

}  // namespace reactor
