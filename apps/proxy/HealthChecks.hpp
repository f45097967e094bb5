// Active upstream health checks (nginx Plus `health_check`, HAProxy `option httpchk` + `check
// inter rise fall`): for each upstream of a [[group]] with health-check-path, one GET every
// interval over a new connection made exactly as requests make theirs (TLS, verification and
// client certificate included), its result published to the set's UpstreamHealth, which every
// loop's picks read. The checks run on one loop of their own, on a thread of their own, so that
// a slow check never delays a request and the request loops need no timer of theirs.
#pragma once

#include <memory>
#include <thread>

#include "apps/proxy/LiveConfig.hpp"

namespace reactor {
class Loop;
}

namespace apps::proxy {

class CheckRound;

class HealthChecks {
 public:
  // Starts the checks' thread and loop (idle until watch()).
  HealthChecks();
  // Stops every check (a connection under way is closed) and joins the thread.
  ~HealthChecks();
  HealthChecks(const HealthChecks&) = delete;
  HealthChecks& operator=(const HealthChecks&) = delete;

  // From now on, checks the upstreams of `config`'s groups that ask for checks, and stops
  // checking those of the configuration before (a reload). Any thread; null stops all checks.
  void watch(std::shared_ptr<const ProxyConfig> config);

 private:
  reactor::Loop* loop_ = nullptr;      // lives on thread_, from the constructor's return
  std::unique_ptr<CheckRound> round_;  // on thread_ only
  std::thread thread_;
};

}  // namespace apps::proxy
