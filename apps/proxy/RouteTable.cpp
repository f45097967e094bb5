#include "apps/proxy/RouteTable.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <map>

#include "apps/http/Fields.hpp"
#include "apps/proxy/HeaderRewrite.hpp"

namespace apps::proxy {
namespace {

constexpr std::array<std::string_view, 9> kMethods{"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                   "CONNECT", "OPTIONS", "TRACE", "PATCH"};

// The path of a request-target: what comes before its query or fragment. A loop, not two
// memchr calls over the whole target: paths are short and the query may be long.
std::string_view path_of(std::string_view target) {
  std::size_t end = 0;
  while (end < target.size() && target[end] != '?' && target[end] != '#') ++end;
  return target.substr(0, end);
}

// The first min(8, size) bytes of `text` as a word, the rest zero; the same bytes in the same
// places as any other word made here, whatever the byte order.
std::uint64_t word_of(std::string_view text) {
  std::uint64_t word = 0;
  std::memcpy(&word, text.data(), std::min<std::size_t>(text.size(), sizeof word));
  return word;
}

// A host name's hash, 8 bytes at a time (names are short; no table, no call). Only for
// HostIndex, in this process: nothing depends on its values.
std::uint64_t host_hash(std::string_view name) {
  std::uint64_t hash = 0x9e3779b97f4a7c15ULL ^ name.size();
  for (std::size_t at = 0; at < name.size(); at += 8) {
    hash = (hash ^ word_of(name.substr(at))) * 0xff51afd7ed558ccdULL;
    hash ^= hash >> 32;
  }
  return hash;
}

std::string methods_text(std::uint16_t methods) {
  if (methods == 0) return "any method";
  std::string out;
  for (std::size_t i = 0; i < kMethods.size(); ++i)
    if ((methods >> i & 1U) != 0) out += (out.empty() ? "" : ",") + std::string(kMethods[i]);
  return out;
}

std::string route_text(const Route& route) {
  return "route host '" + (route.host.empty() ? std::string("(default)") : route.host) +
         "' path '" + route.path + "' (" + methods_text(route.methods) + ")";
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  const char lower = http::lower_ascii(c);
  return lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : -1;
}

// What RFC 3986 2.3 calls unreserved, with the separators an upstream may decode into one.
bool must_not_be_encoded(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '/' || c == '\\';
}

}  // namespace

bool is_normal_target(std::string_view target) {
  if (!target.starts_with('/')) return true;
  // One pass over the path, which ends at the query or fragment: at each '/' and at the end,
  // the segment since the last '/' must not be "." or "..", and at a '/' not "" either (a
  // trailing '/' is fine). What follows the path is never a hex digit, so a '%' near its end
  // may look past it.
  std::size_t segment = 1;
  for (std::size_t i = 1;; ++i) {
    const char c = i < target.size() ? target[i] : '?';
    if (c == '/' || c == '?' || c == '#') {
      const std::size_t length = i - segment;
      const bool dots =
          (length == 1 || length == 2) && target[segment] == '.' && target[i - 1] == '.';
      if (dots || (length == 0 && c == '/')) return false;
      if (c != '/') return true;
      segment = i + 1;
    } else if (c == '\\') {
      return false;
    } else if (c == '%') {
      const int high = i + 2 < target.size() ? hex_value(target[i + 1]) : -1;
      const int low = high >= 0 ? hex_value(target[i + 2]) : -1;
      if (low >= 0 && must_not_be_encoded(high * 16 + low)) return false;
    }
  }
}

std::uint16_t method_bit(std::string_view method) {
  for (std::size_t i = 0; i < kMethods.size(); ++i)
    if (kMethods[i] == method) return static_cast<std::uint16_t>(1U << i);
  return 0;
}

void apply_header_rules(const HeaderRules& rules, HeaderList& list) {
  for (const auto& name : rules.remove) list.remove(name);
  for (const auto& [name, value] : rules.set) {
    list.remove(name);
    list.add(name, value);
  }
}

std::string_view normal_host(std::string_view host, char* buf, std::size_t size) {
  // Up to the port: a name, or an IPv6 literal with its brackets.
  if (!host.starts_with('[')) {
    host = host.substr(0, host.find(':'));
  } else if (const auto close = host.find(']'); close != std::string_view::npos) {
    host = host.substr(0, close + 1);
  }
  if (host.ends_with('.')) host.remove_suffix(1);
  if (host.size() > size) return {};
  for (std::size_t i = 0; i < host.size(); ++i) buf[i] = http::lower_ascii(host[i]);
  return {buf, host.size()};
}

std::shared_ptr<const RouteTable> RouteTable::build(std::vector<RouteGroup> groups,
                                                    std::vector<Route> routes,
                                                    std::vector<Problem>& problems) {
  auto table = std::make_shared<RouteTable>();
  static std::atomic<std::uint64_t> tables{0};
  table->id_ = tables.fetch_add(1, std::memory_order_relaxed) + 1;
  bool failed = false;
  const auto report = [&](bool error, std::string text) {
    failed = failed || error;
    problems.push_back({error, std::move(text)});
  };

  std::map<std::string, std::size_t, std::less<>> by_name;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const auto [at, fresh] = by_name.emplace(groups[i].name, i);
    if (!fresh)
      report(true, groups[i].source + ": group '" + groups[i].name +
                       "' is defined again (first at " + groups[at->second].source + ")");
  }
  std::vector<bool> used(groups.size(), false);

  // Routes of one host and path, in the order given: the duplicate and unreachable checks.
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> same_place;
  for (std::size_t i = 0; i < routes.size(); ++i) {
    Route& route = routes[i];
    route.host = http::lower_ascii(route.host);
    if (route.action == Route::Action::proxy) {
      const auto group = by_name.find(route.group_name);
      if (group == by_name.end()) {
        report(true, route.source + ": " + route_text(route) + " names no known group '" +
                         route.group_name + "'");
      } else {
        route.group = group->second;
        used[group->second] = true;
      }
    }
    auto& earlier = same_place[{route.host, route.path}];
    std::uint16_t covered = 0;
    std::string covering;
    for (const std::size_t e : earlier) {
      const Route& before = routes[e];
      if (before.methods == route.methods) {
        report(true, route.source + ": " + route_text(route) + " is the same as the route at " +
                         before.source);
        covering.clear();
        break;
      }
      if (before.methods != 0) {
        covered = static_cast<std::uint16_t>(covered | before.methods);
        covering += (covering.empty() ? "" : ", ") + before.source;
      }
    }
    if (route.methods != 0 && !covering.empty() && (covered & route.methods) == route.methods)
      report(true, route.source + ": " + route_text(route) +
                       " can never match: its methods are all taken by the routes at " + covering);
    earlier.push_back(i);
  }
  for (std::size_t i = 0; i < groups.size(); ++i)
    if (!used[i])
      report(false, groups[i].source + ": warning: no route uses group '" + groups[i].name + "'");
  if (failed) return nullptr;

  table->groups_ = std::move(groups);
  table->routes_ = std::move(routes);
  const auto& all = table->routes_;
  std::map<std::string, HostRoutes, std::less<>> exact;
  std::map<std::string, HostRoutes, std::less<>> wildcard;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string& host = all[i].host;
    HostRoutes* entry = nullptr;
    if (host.empty())
      entry = table->default_ ? &*table->default_ : &table->default_.emplace();
    else if (host.starts_with("*."))
      entry = &wildcard[host.substr(1)];
    else
      entry = &exact[host];
    const std::string& path = all[i].path;
    const std::array<char, 8> ones{'\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff'};
    entry->push_back({word_of(path), word_of({ones.data(), std::min<std::size_t>(path.size(), 8)}),
                      static_cast<std::uint32_t>(path.size()), static_cast<std::uint32_t>(i),
                      all[i].methods, path.ends_with('/')});
  }
  const auto tried_first = [](const PathKey& a, const PathKey& b) {
    if (a.size != b.size) return a.size > b.size;
    return a.methods != 0 && b.methods == 0;
  };
  const auto index = [&tried_first](std::map<std::string, HostRoutes, std::less<>>& hosts,
                                    HostIndex& into) {
    std::vector<std::pair<std::string, HostRoutes>> entries;
    for (auto& [name, entry] : hosts) {
      std::stable_sort(entry.begin(), entry.end(), tried_first);
      entries.emplace_back(name, std::move(entry));
    }
    into.build(std::move(entries));
  };
  index(exact, table->exact_);
  index(wildcard, table->wildcard_);
  if (table->default_)
    std::stable_sort(table->default_->begin(), table->default_->end(), tried_first);
  return table;
}

void RouteTable::HostIndex::build(std::vector<std::pair<std::string, HostRoutes>> hosts) {
  entries_ = std::move(hosts);
  std::size_t size = 8;
  while (size < 2 * entries_.size()) size *= 2;
  slots_.assign(size, {});
  for (std::size_t e = 0; e < entries_.size(); ++e) {
    const std::uint64_t hash = host_hash(entries_[e].first);
    std::size_t i = hash & (size - 1);
    while (slots_[i].entry != 0) i = (i + 1) & (size - 1);
    slots_[i] = {hash, static_cast<std::uint32_t>(e + 1)};
  }
}

const RouteTable::HostRoutes* RouteTable::HostIndex::find(std::string_view name) const {
  if (entries_.empty()) return nullptr;
  const std::uint64_t hash = host_hash(name);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask; slots_[i].entry != 0; i = (i + 1) & mask) {
    const auto& [key, routes] = entries_[slots_[i].entry - 1];
    if (slots_[i].hash == hash && key == name) return &routes;
  }
  return nullptr;
}

const RouteTable::HostRoutes* RouteTable::host_routes(std::string_view host) const {
  if (!host.empty()) {
    if (const HostRoutes* exact = exact_.find(host)) return exact;
    for (auto dot = host.find('.'); dot != std::string_view::npos; dot = host.find('.', dot + 1))
      if (const HostRoutes* wild = wildcard_.find(host.substr(dot))) return wild;
  }
  return default_ ? &*default_ : nullptr;
}

const RouteTable::HostRoutes* RouteTable::routes_of(std::string_view host) const {
  struct Last {
    std::uint64_t table = 0;  // id_ of the table it was found in; 0: none yet
    std::array<char, 64> host;
    std::size_t size = 0;
    const HostRoutes* routes = nullptr;
  };
  thread_local Last last;
  if (last.table == id_ && host.size() == last.size &&
      std::memcmp(host.data(), last.host.data(), host.size()) == 0)
    return last.routes;
  std::array<char, 256> buf;  // NOLINT: written before read, by normal_host
  const HostRoutes* routes = host_routes(normal_host(host, buf.data(), buf.size()));
  if (host.size() <= last.host.size()) {
    std::memcpy(last.host.data(), host.data(), host.size());
    last = {id_, last.host, host.size(), routes};
  }
  return routes;
}

const Route* RouteTable::find(std::string_view host, std::string_view method,
                              std::string_view target) const {
  const HostRoutes* entry = routes_of(host);
  if (entry == nullptr) return nullptr;
  const std::string_view path = path_of(target);
  const std::uint64_t head = word_of(path);
  const std::uint16_t bit = method_bit(method);
  for (const PathKey& key : *entry) {
    if (key.size > path.size() || (head & key.mask) != key.head) continue;
    const Route& route = routes_[key.route];
    // The bytes past the first 8, then the segment boundary: "/api" covers "/api" and
    // "/api/x", not "/apix"; a prefix ending in '/' covers whatever starts with it.
    if (key.size > 8 && std::memcmp(path.data() + 8, route.path.data() + 8, key.size - 8) != 0)
      continue;
    if (!key.ends_with_slash && path.size() != key.size && path[key.size] != '/') continue;
    if (key.methods == 0 || (key.methods & bit) != 0) return &route;
  }
  return nullptr;
}

void rewrite_target(const Route& route, std::string_view target, std::string& out) {
  std::string_view rest = target.substr(std::min(route.path.size(), target.size()));
  out.assign(route.rewrite_prefix ? *route.rewrite_prefix : route.path);
  if (out.ends_with('/') && rest.starts_with('/')) rest.remove_prefix(1);
  out.append(rest);
  if (!out.starts_with('/')) out.insert(0, "/");
}

std::string expand_location(const Route& route, std::string_view host, std::string_view target) {
  std::array<char, 256> buf{};
  const std::string_view name = normal_host(host, buf.data(), buf.size());
  std::string out;
  std::string_view rest = route.location;
  while (!rest.empty()) {
    if (rest.starts_with("$host")) {
      out.append(name);
      rest.remove_prefix(5);
    } else if (rest.starts_with("$request_uri")) {
      out.append(target);
      rest.remove_prefix(12);
    } else {
      out.push_back(rest.front());
      rest.remove_prefix(1);
    }
  }
  return out;
}

}  // namespace apps::proxy
