#include "apps/proxy/ClientRecord.hpp"

#include <utility>

#include "tls/Errors.hpp"
#include "tls/TlsTransport.hpp"

namespace apps::proxy {
namespace {

Metrics::HandshakeFailure handshake_failure(const reactor::Error& error) {
  using Why = Metrics::HandshakeFailure;
  const std::error_code& code = error.code();
  if (code == tls::make_error_code(tls::Errc::handshake_timeout) ||
      code == reactor::make_error_code(reactor::Errc::idle_timeout))
    return Why::timeout;
  if (code.category() != tls::tls_category()) return code ? Why::peer_closed : Why::other;
  if (code == tls::make_error_code(tls::Errc::stream_truncated)) return Why::peer_closed;
  if (code == tls::make_error_code(tls::Errc::internal)) return Why::other;
  return Why::protocol;
}

class Counted final : public reactor::Handler {
 public:
  Counted(Metrics& metrics, std::unique_ptr<reactor::Handler> inner)
      : metrics_(metrics), inner_(std::move(inner)) {
    Metrics::add(metrics_.connections_total);
    Metrics::add(metrics_.connections_active);
  }

  void on_open(reactor::Connection& conn) override {
    opened_ = true;
    if (const tls::TlsInfo* info = tls::info(conn)) {
      Metrics::add(metrics_.handshakes_ok);
      metrics_.handshake_seconds.observe(info->handshake_time);
      if (info->resumed) Metrics::add(metrics_.resumptions);
    }
    inner_->on_open(conn);
  }
  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override {
    Metrics::add(metrics_.bytes_in, data.size());
    inner_->on_data(conn, data);
    count_written(conn);
  }
  void on_drain(reactor::Connection& conn) override {
    inner_->on_drain(conn);
    count_written(conn);
  }
  void on_peer_closed(reactor::Connection& conn) override { inner_->on_peer_closed(conn); }
  void on_server_stopping(reactor::Connection& conn) override { inner_->on_server_stopping(conn); }
  void on_close(reactor::Connection& conn, const reactor::Error& error) override {
    inner_->on_close(conn, error);
    count_written(conn);
    if (!opened_ && tls::info(conn) != nullptr) metrics_.count(handshake_failure(error));
    Metrics::add(metrics_.connections_active, static_cast<std::uint64_t>(-1));
  }

 private:
  // bytes_out from what the connection reports written (all of it: heads, bodies, HTTP/2
  // frames, tunnelled bytes), brought up to date at the connection's events: whoever wrote it,
  // in whichever protocol, it is counted once. A response written between events shows at the
  // next one (its drain, the next request) or at the close.
  void count_written(reactor::Connection& conn) {
    const std::uint64_t written = conn.stats().bytes_written;
    Metrics::add(metrics_.bytes_out, written - written_);
    written_ = written;
  }

  Metrics& metrics_;
  std::unique_ptr<reactor::Handler> inner_;
  std::uint64_t written_ = 0;  // the connection's bytes_written already in bytes_out
  bool opened_ = false;
};

}  // namespace

double milliseconds(RequestClock::duration elapsed) {
  return std::chrono::duration<double, std::milli>(elapsed).count();
}

void record_connection(reactor::Connection& conn, AccessRecord& record) {
  record.client = conn.peer_address().to_string();
  if (const tls::TlsInfo* info = tls::info(conn)) {
    record.sni = info->server_name;
    record.alpn = info->alpn;
    record.tls_version = info->protocol;
    record.cipher = info->cipher;
    record.resumed = info->resumed;
    record.handshake_ms = milliseconds(info->handshake_time);
  }
}

void finish_request(Metrics& metrics, AccessLog* log, AccessRecord& record, int status,
                    RequestClock::time_point started) {
  metrics.count_request(
      status, record.protocol == "HTTP/2" ? Metrics::Protocol::http2 : Metrics::Protocol::http1);
  // One clock read serves the histogram and the log line.
  const RequestClock::duration elapsed = RequestClock::now() - started;
  metrics.request_seconds.observe(elapsed);
  if (log == nullptr) return;
  record.status = status;
  record.total_ms = milliseconds(elapsed);
  log->write(record);
}

reactor::HandlerFactory counted_clients(Metrics& metrics, reactor::HandlerFactory inner) {
  return [&metrics, inner = std::move(inner)]() -> std::unique_ptr<reactor::Handler> {
    auto handler = inner();
    if (!handler) return nullptr;
    return std::make_unique<Counted>(metrics, std::move(handler));
  };
}

}  // namespace apps::proxy
