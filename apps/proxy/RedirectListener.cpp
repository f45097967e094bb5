#include "apps/proxy/RedirectListener.hpp"

#include <array>
#include <memory>
#include <utility>

#include "apps/proxy/Admin.hpp"
#include "apps/proxy/RouteTable.hpp"

namespace apps::proxy {
namespace {

class RedirectExchange final : public http::Exchange {
 public:
  void on_request(const http::RequestHead& head, http::Response& response) override {
    std::array<char, 256> buf;  // NOLINT: written before read, by normal_host
    const std::string_view host = normal_host(head.authority, buf.data(), buf.size());
    if (host.empty()) return answer(response, 400, {}, "a redirect to https needs a Host\n");
    const std::string location = "https://" + std::string(host) + std::string(head.target);
    answer(response, 301, location, "");
  }

 private:
  static void answer(http::Response& response, int status, std::string_view location,
                     std::string_view body) {
    std::array<http::Field, 2> fields{{{"content-type", "text/plain"}, {"location", location}}};
    response.head(status, std::span(fields.data(), location.empty() ? 1 : 2), body.size(),
                  !body.empty());
    if (!body.empty()) response.body(std::as_bytes(std::span(body.data(), body.size())));
    response.end();
  }
};

}  // namespace

reactor::ExtraListener redirect_listener(const reactor::Address& address, http::Http1Options http1,
                                         std::chrono::milliseconds idle_timeout) {
  reactor::ExtraListener listener;
  listener.address = address;
  listener.factory = [http1 = std::move(http1)]() -> std::unique_ptr<reactor::Handler> {
    return std::make_unique<http::Http1Connection>(
        [] { return std::make_unique<RedirectExchange>(); }, http1);
  };
  listener.options.connection.idle_timeout = idle_timeout;
  return listener;
}

std::optional<reactor::Address> redirect_address(std::string_view host_port, std::string& error) {
  return listen_address("redirect-listen", host_port, "0.0.0.0:80", error);
}

}  // namespace apps::proxy
