#include "apps/http/VersionSelect.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "tls/TlsTransport.hpp"

namespace apps::http {
namespace {

constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

class Select final : public reactor::Handler {
 public:
  explicit Select(std::shared_ptr<const VersionChoice> choice) : choice_(std::move(choice)) {}

  void on_open(reactor::Connection& conn) override {
    if (const tls::TlsInfo* info = tls::info(conn)) {
      choose(conn, info->alpn == "h2" && choice_->http2 ? choice_->http2 : choice_->http1, {});
    } else if (!choice_->prior_knowledge || !choice_->http2) {
      choose(conn, choice_->http1, {});
    }
    // Plain with prior knowledge allowed: the first bytes decide.
  }

  void on_data(reactor::Connection& conn, std::span<const std::byte> data) override {
    if (chosen_) return chosen_->on_data(conn, data);
    early_.append(reinterpret_cast<const char*>(data.data()), data.size());
    const std::size_t n = std::min(early_.size(), preface.size());
    const bool matches = std::string_view(early_).substr(0, n) == preface.substr(0, n);
    if (matches && early_.size() < preface.size()) return;  // too short to tell yet
    const std::string early = std::exchange(early_, {});
    choose(conn, matches ? choice_->http2 : choice_->http1,
           std::as_bytes(std::span(early.data(), early.size())));
  }

  void on_drain(reactor::Connection& conn) override {
    if (chosen_) chosen_->on_drain(conn);
  }
  void on_peer_closed(reactor::Connection& conn) override {
    if (chosen_)
      chosen_->on_peer_closed(conn);
    else
      conn.close();  // ended before saying which protocol: nothing to answer
  }
  void on_server_stopping(reactor::Connection& conn) override {
    if (chosen_)
      chosen_->on_server_stopping(conn);
    else
      conn.close();
  }
  void on_close(reactor::Connection& conn, const reactor::Error& error) override {
    if (chosen_) chosen_->on_close(conn, error);
  }

 private:
  void choose(reactor::Connection& conn, const reactor::HandlerFactory& factory,
              std::span<const std::byte> early) {
    chosen_ = factory();
    if (!chosen_) return conn.abort();
    chosen_->on_open(conn);
    if (!early.empty() && !conn.is_closing()) chosen_->on_data(conn, early);
  }

  std::shared_ptr<const VersionChoice> choice_;
  std::unique_ptr<reactor::Handler> chosen_;
  std::string early_;  // plain TCP: what came before the choice (at most the preface's 24 bytes)
};

}  // namespace

reactor::HandlerFactory select_http_version(VersionChoice choice) {
  auto shared = std::make_shared<const VersionChoice>(std::move(choice));
  return
      [shared]() -> std::unique_ptr<reactor::Handler> { return std::make_unique<Select>(shared); };
}

}  // namespace apps::http
