#include "reactor/TcpConnector.hpp"

#include <utility>

#include "reactor/Stream.hpp"

namespace reactor {

void TcpConnector::connect(const HostPort& target, std::unique_ptr<Handler> handler) {
  detail::Stream::create(loop_, std::move(handler), options_.connection)
      ->connect(target, options_.timeout);
}

}  // namespace reactor
