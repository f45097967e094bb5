// A fixed number of Attempt slots on one Poller: each slot starts a new attempt as soon as its
// last one ends, for as long as the owner wants more. Failures and timeouts go to the ErrorLog;
// completed attempts go to the owner. Slot i is reported by the Poller with tag i.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "bench/tls_load/Attempt.hpp"
#include "bench/tls_load/ErrorLog.hpp"
#include "bench/tls_load/Poller.hpp"

namespace bench::tls_load {

class AttemptPool {
 public:
  class Owner {
   public:
    // Whether to start another attempt now, and from which source address (left invalid:
    // any). Called before every start.
    virtual bool want_another(reactor::Address& source) = 0;
    // The attempt got its whole response at `now`. The owner may keep its socket
    // (Attempt::release_fd); the pool closes whatever is left afterwards.
    virtual void completed(Attempt& attempt, Clock::time_point now) = 0;

   protected:
    ~Owner() = default;
  };

  AttemptPool(std::size_t slots, const reactor::Address& target, const std::string& request,
              Attempt::Ending ending, ClientTls& tls, Poller& poller, ErrorLog& errors,
              Owner& owner);

  // Starts an attempt in every slot (as far as the owner wants).
  void fill(Clock::time_point now);
  // Readiness of the slot tagged `slot`.
  void on_ready(std::size_t slot);
  // Fails attempts older than attempt_timeout and starts others in their place.
  void sweep_timeouts(Clock::time_point now);
  // Abandons every attempt in flight (neither completed nor an error).
  void close_all();

  std::size_t active() const { return active_; }

 private:
  void launch(std::size_t slot, Clock::time_point now);
  void finish(std::size_t slot, Clock::time_point now);

  const reactor::Address& target_;
  const std::string& request_;
  const Attempt::Ending ending_;
  ClientTls& tls_;
  Poller& poller_;
  ErrorLog& errors_;
  Owner& owner_;
  std::vector<Attempt> slots_;
  std::array<char, 16 * 1024> buffer_{};  // every read lands here first
  std::size_t active_ = 0;
};

}  // namespace bench::tls_load
