#include "reactor/IdleWatch.hpp"

#include "reactor/Loop.hpp"
#include "reactor/LoopImpl.hpp"

namespace reactor {

void IdleWatch::touch(Loop& loop, std::chrono::milliseconds quiet) noexcept {
  detail::LoopImpl& impl = loop.impl();
  impl.wheel().schedule(*this, impl.now() + static_cast<std::uint64_t>(quiet.count()));
}

}  // namespace reactor
