#include "apps/proxy/RouteTable.hpp"

#include <algorithm>
#include <array>
#include <map>

#include "apps/http/Fields.hpp"
#include "apps/proxy/HeaderRewrite.hpp"

namespace apps::proxy {
namespace {

constexpr std::array<std::string_view, 9> kMethods{"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                   "CONNECT", "OPTIONS", "TRACE", "PATCH"};

// The path of a request-target: what comes before its query or fragment.
std::string_view path_of(std::string_view target) {
  return target.substr(0, std::min(target.find('?'), target.find('#')));
}

// Whether `prefix` covers `path` up to a segment boundary.
bool prefix_matches(std::string_view prefix, std::string_view path) {
  if (!path.starts_with(prefix)) return false;
  return prefix.ends_with('/') || path.size() == prefix.size() || path[prefix.size()] == '/';
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
  const std::string_view path = path_of(target);
  if (path.find('\\') != std::string_view::npos) return false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%') {
      const int high = i + 2 < path.size() ? hex_value(path[i + 1]) : -1;
      const int low = high >= 0 ? hex_value(path[i + 2]) : -1;
      if (low >= 0 && must_not_be_encoded(high * 16 + low)) return false;
    }
    if (path[i] != '/' || i == 0) continue;
    // Segment boundaries: the segment before this slash must not be "", "." or "..".
    const std::string_view before = path.substr(0, i);
    const std::string_view segment = before.substr(before.rfind('/') + 1);
    if (segment.empty() || segment == "." || segment == "..") return false;
  }
  const std::string_view last = path.substr(path.rfind('/') + 1);
  return last != "." && last != "..";
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
  if (!host.starts_with('[')) {
    if (const auto colon = host.rfind(':'); colon != std::string_view::npos)
      host = host.substr(0, colon);
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
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string& host = all[i].host;
    HostRoutes* entry = nullptr;
    if (host.empty())
      entry = table->default_ ? &*table->default_ : &table->default_.emplace();
    else if (host.starts_with("*."))
      entry = &table->wildcard_[host.substr(1)];
    else
      entry = &table->exact_[host];
    entry->order.push_back(i);
  }
  const auto tried_first = [&all](std::size_t a, std::size_t b) {
    if (all[a].path.size() != all[b].path.size()) return all[a].path.size() > all[b].path.size();
    return all[a].methods != 0 && all[b].methods == 0;
  };
  for (auto* map : {&table->exact_, &table->wildcard_})
    for (auto& [name, entry] : *map)
      std::stable_sort(entry.order.begin(), entry.order.end(), tried_first);
  if (table->default_)
    std::stable_sort(table->default_->order.begin(), table->default_->order.end(), tried_first);
  return table;
}

const RouteTable::HostRoutes* RouteTable::host_routes(std::string_view host) const {
  if (!host.empty()) {
    if (const auto exact = exact_.find(host); exact != exact_.end()) return &exact->second;
    for (auto dot = host.find('.'); dot != std::string_view::npos; dot = host.find('.', dot + 1))
      if (const auto wild = wildcard_.find(host.substr(dot)); wild != wildcard_.end())
        return &wild->second;
  }
  return default_ ? &*default_ : nullptr;
}

const Route* RouteTable::find(std::string_view host, std::string_view method,
                              std::string_view target) const {
  std::array<char, 256> buf{};
  const HostRoutes* entry = host_routes(normal_host(host, buf.data(), buf.size()));
  if (entry == nullptr) return nullptr;
  const std::string_view path = path_of(target);
  const std::uint16_t bit = method_bit(method);
  for (const std::size_t i : entry->order) {
    const Route& route = routes_[i];
    if (prefix_matches(route.path, path) && (route.methods == 0 || (route.methods & bit) != 0))
      return &route;
  }
  return nullptr;
}

void rewrite_target(const Route& route, std::string_view target, std::string& out) {
  std::string_view rest = target.substr(std::min(route.path.size(), target.size()));
  out = route.rewrite_prefix.value_or(route.path);
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
