#include "apps/proxy/ProxyProtocol.hpp"

#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "reactor/Log.hpp"
#include "reactor/WheelTimer.hpp"

namespace apps::proxy {
namespace {

// The TCP connection's handler and the next layer's connection, like tls::TlsTransport: the
// next layer (its `inner` handler) sees this object as its TCP connection, so every address it
// asks for is the one the header gave.
class ProxyProtocolTransport final : public reactor::Handler, public reactor::Connection {
 public:
  ProxyProtocolTransport(std::shared_ptr<const ProxyProtocolOptions> options,
                         std::unique_ptr<reactor::Handler> inner)
      : options_(std::move(options)), inner_(std::move(inner)) {}

  // ---- reactor::Handler, for the TCP connection ----
  void on_open(reactor::Connection& tcp) override {
    tcp_ = &tcp;
    loop_ = &tcp.loop();
    peer_ = tcp.peer_address();
    if (!matches_any(options_->trusted, peer_)) {
      open_inner();
      return;
    }
    parser_.emplace(options_->max_v2_bytes);
    timer_.emplace(tcp.loop(), [this] {
      refuse("no PROXY header within " + std::to_string(options_->header_timeout.count()) + " ms");
    });
    timer_->start(options_->header_timeout);
  }

  void on_data(reactor::Connection&, std::span<const std::byte> data) override {
    if (inner_open_) {
      deliver(data);
      return;
    }
    if (!parser_) return;  // refused: closing
    const auto result = parser_->feed(data);
    if (result.status == ProxyHeaderParser::Status::incomplete) return;
    if (result.status == ProxyHeaderParser::Status::failed) {
      refuse(parser_->error());
      return;
    }
    const ProxyHeader& header = parser_->header();
    if (!header.local) {
      reactor::log::debug("PROXY v" + std::to_string(header.version) + " from " +
                          peer_.to_string() + ": client " + header.source.to_string());
      peer_ = header.source;
    }
    parser_.reset();
    timer_->stop();
    open_inner();
    if (result.consumed < data.size() && tcp_ != nullptr && !tcp_->is_closing())
      deliver(data.subspan(result.consumed));
  }

  void on_drain(reactor::Connection&) override {
    if (inner_open_) inner_->on_drain(*this);
  }

  void on_peer_closed(reactor::Connection& tcp) override {
    if (inner_open_) {
      inner_->on_peer_closed(*this);
      return;
    }
    // A balancer's TCP health check connects and hangs up without a word: not worth a warning.
    if (parser_ && parser_->buffered() > 0)
      refuse("the peer closed in the middle of the PROXY header");
    else
      tcp.close();
  }

  void on_server_stopping(reactor::Connection& tcp) override {
    if (inner_open_)
      inner_->on_server_stopping(*this);
    else
      tcp.close();
  }

  void on_close(reactor::Connection&, const reactor::Error& error) override {
    timer_.reset();
    // The next layer always hears the end, even when it never opened (the Handler contract).
    inner_->on_close(*this, error_ ? error_ : error);
    tcp_ = nullptr;
  }

  // ---- reactor::Connection, for the next layer ----
  bool write(std::span<const std::byte> data) override {
    return tcp_ != nullptr && tcp_->write(data);
  }
  using reactor::Connection::write;
  void shutdown() override {
    if (tcp_ != nullptr) tcp_->shutdown();
  }
  void close() override {
    if (tcp_ != nullptr) tcp_->close();
  }
  void abort() override {
    if (tcp_ != nullptr) tcp_->abort();
  }
  void pause_reading() override {
    paused_ = true;
    if (tcp_ != nullptr) tcp_->pause_reading();
  }
  void resume_reading() override {
    paused_ = false;
    // What came with the header's last bytes while the next layer was paused goes first.
    if (!held_.empty()) {
      const std::vector<std::byte> held = std::exchange(held_, {});
      inner_->on_data(*this, held);
    }
    if (!paused_ && tcp_ != nullptr) tcp_->resume_reading();
  }
  void set_idle_timeout(std::chrono::milliseconds timeout) override {
    if (tcp_ != nullptr) tcp_->set_idle_timeout(timeout);
  }
  void set_write_limits(reactor::WriteLimits limits) override {
    if (tcp_ != nullptr) tcp_->set_write_limits(limits);
  }
  // The queue is TCP's: its own notification, not the water-mark approximation.
  void request_drain(std::size_t queued) override {
    if (tcp_ != nullptr) tcp_->request_drain(queued);
  }
  reactor::Address peer_address() const override { return peer_; }
  reactor::Address local_address() const override {
    return tcp_ != nullptr ? tcp_->local_address() : reactor::Address();
  }
  // The TCP connection's figures: bytes_read includes the header.
  reactor::ConnectionStats stats() const override {
    return tcp_ != nullptr ? tcp_->stats() : reactor::ConnectionStats{};
  }
  bool is_closing() const override { return tcp_ == nullptr || tcp_->is_closing(); }
  reactor::Loop& loop() const override { return *loop_; }

 private:
  void open_inner() {
    inner_open_ = true;
    inner_->on_open(*this);
  }

  void deliver(std::span<const std::byte> data) {
    if (paused_)
      held_.insert(held_.end(), data.begin(), data.end());
    else
      inner_->on_data(*this, data);
  }

  void refuse(const std::string& reason) {
    reactor::log::warn("PROXY protocol from trusted " + peer_.to_string() + ": " + reason +
                       "; closing");
    error_ =
        reactor::Error(std::make_error_code(std::errc::protocol_error), "proxy protocol", reason);
    parser_.reset();
    if (timer_) timer_->stop();
    if (tcp_ != nullptr) tcp_->close();
  }

  std::shared_ptr<const ProxyProtocolOptions> options_;
  std::unique_ptr<reactor::Handler> inner_;
  reactor::Connection* tcp_ = nullptr;  // from on_open until on_close returns
  reactor::Loop* loop_ = nullptr;
  reactor::Address peer_;                     // the header's client, or the TCP peer
  std::optional<ProxyHeaderParser> parser_;   // while a trusted source owes its header
  std::optional<reactor::WheelTimer> timer_;  // the header deadline, on the loop's wheel
  std::vector<std::byte> held_;  // bytes after the header, kept while the next layer paused
  reactor::Error error_;
  bool inner_open_ = false;
  bool paused_ = false;
};

}  // namespace

reactor::HandlerFactory proxy_protocol_factory(ProxyProtocolOptions options,
                                               reactor::HandlerFactory inner) {
  if (options.trusted.empty()) return inner;
  auto shared = std::make_shared<const ProxyProtocolOptions>(std::move(options));
  return [shared, inner = std::move(inner)]() -> std::unique_ptr<reactor::Handler> {
    auto handler = inner();
    if (!handler) return nullptr;
    return std::make_unique<ProxyProtocolTransport>(shared, std::move(handler));
  };
}

reactor::HandlerFactory proxy_protocol_factory(std::vector<Cidr> trusted,
                                               reactor::HandlerFactory inner) {
  ProxyProtocolOptions options;
  options.trusted = std::move(trusted);
  return proxy_protocol_factory(std::move(options), std::move(inner));
}

}  // namespace apps::proxy
