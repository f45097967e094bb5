#include "apps/proxy/LiveConfig.hpp"

#include <utility>

#include "apps/proxy/Upstreams.hpp"

namespace apps::proxy {

void LiveConfig::stage(std::shared_ptr<const ProxyConfig> config) {
  const std::lock_guard lock(mutex_);
  staged_ = std::move(config);
}

void LiveConfig::publish_staged() {
  const std::lock_guard lock(mutex_);
  if (!staged_) return;
  published_ = std::move(staged_);
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const ProxyConfig> LiveConfig::published() const {
  const std::lock_guard lock(mutex_);
  return published_;
}

void LiveConfig::refresh(std::shared_ptr<const ServedConfig>& view, std::uint64_t& generation,
                         reactor::Loop& loop) const {
  if (generation_.load(std::memory_order_acquire) == generation && view) return;
  std::shared_ptr<const ProxyConfig> config;
  {
    const std::lock_guard lock(mutex_);
    config = published_;
    generation = generation_.load(std::memory_order_relaxed);
  }
  if (!config) return;
  if (view && view->config == config) return;
  view =
      std::make_shared<const ServedConfig>(ServedConfig{config, &config->upstreams->on_loop(loop)});
}

}  // namespace apps::proxy
