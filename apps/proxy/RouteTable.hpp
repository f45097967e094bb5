// The proxy's routes: which upstream group (or which fixed answer) a request gets, by its host,
// then its path, then its method, as nginx's `server_name` + `location` or HAProxy's
// `use_backend` rules decide. Pure: built once from the configuration (with its problems
// reported for --check), then looked up per request without allocating.
//
// Matching:
// - Host (the request's Host or :authority, port and a trailing dot dropped, any case): an
//   exact name first, then the most specific `*.suffix` wildcard ("*.example.com" matches
//   "a.example.com" and "a.b.example.com", not "example.com"), then the default routes (host
//   ""). The first of these that has routes is the request's host, as nginx picks one server:
//   a path none of its routes has is not looked for under a less specific host.
// - Path: the longest route path that is a prefix of the target's path on a segment boundary
//   ("/api" matches "/api", "/api/x" and "/api?q", not "/apix"; "/static/" matches what starts
//   with it).
// - Method: on one host and path, routes with a method list are tried before the route
//   without one (which takes every method), in the order they were given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apps/proxy/HashRing.hpp"
#include "apps/proxy/UpstreamHealth.hpp"

namespace apps::proxy {

// The bit of a method in Route::methods (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE,
// PATCH; case-sensitive as RFC 9110 9.1 says); 0 for any other.
std::uint16_t method_bit(std::string_view method);

// Header fields a route sets (replacing any of the same name) and removes. Names lower case.
struct HeaderRules {
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<std::string> remove;

  bool empty() const { return set.empty() && remove.empty(); }
};

class HeaderList;

// Applies `rules` to `list`: the removed fields go, each set one replaces those of its name.
void apply_header_rules(const HeaderRules& rules, HeaderList& list);

// A named list of upstreams, as indices into ProxyOptions::upstreams (so the per-loop pools
// stay one per upstream, whichever groups share it).
struct RouteGroup {
  std::string name;
  std::vector<std::size_t> upstreams;
  std::vector<unsigned> weights;  // per entry of `upstreams`: its share of the round robin
  std::uint64_t mask = 0;         // bit per index in `upstreams` (at most 64 upstreams in all)
  std::string source;             // "FILE:LINE" of its definition, for --check
  HealthPolicy health;
  // balance = "hash": the ring of its members; requests hash `hash_header`'s value (the client
  // address when empty or absent from the request). Null: smooth weighted round robin.
  std::shared_ptr<const HashRing> ring;
  std::string hash_header;
  bool least_conn = false;  // balance = "least-conn" (Balancer)
  unsigned retries = 1;
  unsigned retry_budget =
      20;  // percent of its requests in flight that may be retrying     // other members a request
           // may move to (UpstreamRoute)            // how requests mark its upstreams down
};

struct Route {
  enum class Action {
    proxy,     // to `group`, the matched prefix replaced by `rewrite_prefix` if there is one
    redirect,  // `status` (301, 302, 307, 308) to `location`, after expand_location
    answer,    // `status` with `body` as text/plain
  };
  std::string host;           // "" (any host), "example.com" or "*.example.com"; lower case
  std::string path = "/";     // a prefix starting with '/'
  std::uint16_t methods = 0;  // method_bit()s; 0: every method
  Action action = Action::proxy;
  std::string group_name;  // proxy: the group's name (resolved by build())
  std::size_t group = 0;   // proxy: index into RouteTable::groups()
  std::optional<std::string> rewrite_prefix;
  int status = 0;
  std::string location;  // may hold $host and $request_uri
  std::string body;
  HeaderRules request_headers;   // applied to the head sent upstream
  HeaderRules response_headers;  // applied to the head sent to the client
  std::string source;            // "FILE:LINE" of its definition, for --check
};

class RouteTable {
 public:
  struct Problem {
    bool error = true;  // false: a warning (the table still works)
    std::string text;   // starts with the FILE:LINE it concerns
  };

  // The table of `routes` over `groups`, or nullptr when some problem is an error: a route
  // naming no group, two routes with the same host, path and methods, a route that can never
  // match (its methods all taken by routes before it on the same host and path). A group no
  // route uses is a warning. Every problem found is appended to `problems`.
  static std::shared_ptr<const RouteTable> build(std::vector<RouteGroup> groups,
                                                 std::vector<Route> routes,
                                                 std::vector<Problem>& problems);

  // The route of a request, or nullptr when none matches (the proxy answers 404). `host` as
  // the request carries it ("Example.COM:8443"); `target` its request-target. No allocation.
  const Route* find(std::string_view host, std::string_view method, std::string_view target) const;

  const std::vector<RouteGroup>& groups() const { return groups_; }
  const std::vector<Route>& routes() const { return routes_; }

 private:
  // One route as the path loop sees it: its path's first 8 bytes as a word (and which of them
  // count), so that a route that does not match is mostly passed over with one comparison.
  struct PathKey {
    std::uint64_t head = 0;
    std::uint64_t mask = 0;
    std::uint32_t size = 0;
    std::uint32_t route = 0;  // index into routes_
    std::uint16_t methods = 0;
    bool ends_with_slash = false;
  };
  // The routes of one host, in the order they are tried (longest path first).
  using HostRoutes = std::vector<PathKey>;
  // Host names to their routes: open addressing on a 64-bit hash of the name, so a lookup is
  // one hash of the normalised name and, nearly always, one slot and one name comparison.
  class HostIndex {
   public:
    void build(std::vector<std::pair<std::string, HostRoutes>> hosts);
    const HostRoutes* find(std::string_view name) const;

   private:
    struct Slot {
      std::uint64_t hash = 0;
      std::uint32_t entry = 0;  // 1 + index into entries_; 0: empty
    };
    std::vector<Slot> slots_;  // a power of two, at most half full
    std::vector<std::pair<std::string, HostRoutes>> entries_;
  };

  // The routes of a request's host as it carried it ("Example.com:443"), through a one-entry
  // cache per thread: a keep-alive connection, or an HTTP/2 one, names the same host on every
  // request, and comparing those bytes costs less than normalising, hashing and probing.
  const HostRoutes* routes_of(std::string_view host) const;
  const HostRoutes* host_routes(std::string_view normal) const;

  std::uint64_t id_ = 0;  // unique per table in the process: what the per-thread cache keys on

  std::vector<RouteGroup> groups_;
  std::vector<Route> routes_;
  HostIndex exact_;
  HostIndex wildcard_;  // keyed by the suffix with its dot: ".example.com"
  std::optional<HostRoutes> default_;
};

// The target sent upstream for a request `target` matched by `route` (which has a
// rewrite_prefix): the matched path prefix replaced, the rest kept ("/old/x?q" under path
// "/old/" with rewrite "/new/" becomes "/new/x?q"), into `out`.
void rewrite_target(const Route& route, std::string_view target, std::string& out);

// A redirect's Location: `route.location` with $host (the request's host without port, lower
// case) and $request_uri (the target as the client sent it) replaced.
std::string expand_location(const Route& route, std::string_view host, std::string_view target);

// Whether a request-target's path is in the one form routes compare: no empty, "." or ".."
// segment, no backslash and no percent-encoded unreserved character, '/' or '\' (RFC 3986
// 6.2.2). Any other spelling ("/x/../admin", "/%61dmin", "//admin") names, for an upstream that
// normalises it, a path other than the one matched, and could step around a route; the proxy
// refuses it (400) while routes are configured. A target that does not start with '/' passes.
bool is_normal_target(std::string_view target);

// A request's host as routes compare it: lower case, without port or trailing dot, into `buf`
// (empty when longer than it). No allocation.
std::string_view normal_host(std::string_view host, char* buf, std::size_t size);

}  // namespace apps::proxy
