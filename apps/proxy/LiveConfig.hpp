// What a reload swaps for requests: the options and the upstream set built from them (its
// pools, its balancing, its route table), taken whole. A connection opened before a SIGHUP keeps
// its own connection-level settings (timeouts, limits, TLS), but each request it starts after
// the reload takes the new routes and upstreams, as nginx's new workers would serve it and
// HAProxy's runtime API changes it; a request already under way finishes on the set it began
// with.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "apps/proxy/ProxyOptions.hpp"

namespace reactor {
class Loop;
}

namespace apps::proxy {

class Upstreams;
class LoopUpstreams;

// One build's request-level configuration. Immutable once published.
struct ProxyConfig {
  std::shared_ptr<const ProxyOptions> options;
  std::shared_ptr<const Upstreams> upstreams;
};

// A connection's view of a ProxyConfig: the config and this loop's pools of its upstream set.
// Made per connection (per loop), so the exchanges that copy it touch a reference count no
// other thread does.
struct ServedConfig {
  std::shared_ptr<const ProxyConfig> config;
  LoopUpstreams* pool = nullptr;  // valid while `config` is held
};

// The configuration new requests take. One per process (main owns it, outliving every
// handler); built configs are staged by the build and published when the reload is taken into
// use, so a reload that fails after the build (a bad certificate) changes nothing.
class LiveConfig {
 public:
  // The build's result; not yet seen by requests. Called where the build runs (start-up,
  // loop 0 on SIGHUP).
  void stage(std::shared_ptr<const ProxyConfig> config);
  // The staged config becomes the one new requests take. Same thread as stage().
  void publish_staged();

  // What new requests take now (null before the first publish). Any thread.
  std::shared_ptr<const ProxyConfig> published() const;

  // `view` brought up to the published config on `loop` (its thread) when a newer one was
  // published since `view` was made; else untouched. One relaxed load when nothing changed;
  // a mutex only when something did. `generation` is the caller's, starting at 0.
  void refresh(std::shared_ptr<const ServedConfig>& view, std::uint64_t& generation,
               reactor::Loop& loop) const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ProxyConfig> staged_;
  std::shared_ptr<const ProxyConfig> published_;
  std::atomic<std::uint64_t> generation_{0};  // how many were published
};

}  // namespace apps::proxy
