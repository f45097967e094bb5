#include "apps/proxy/RouteConfig.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

#include <toml++/toml.h>

#include "apps/http/Fields.hpp"
#include "apps/proxy/HeaderRewrite.hpp"
#include "apps/proxy/RouteTable.hpp"

namespace apps::proxy {
namespace {

std::string line_of(const std::string& file, const toml::node& node) {
  return file + ":" + std::to_string(node.source().begin.line);
}

std::string at(const std::string& file, const toml::source_position& pos) {
  return file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
}

// A header field name is a token (RFC 9110 5.6.2).
bool is_token(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

// Why `name` may not be in a route's header rules ("" when it may): not a field name, or a
// field the proxy frames the message with or keeps to one hop. A rule adding Content-Length
// beside the driver's own framing would make the message mean two things to its reader.
std::string rule_name_problem(std::string_view name) {
  if (!is_token(name)) return "'" + std::string(name) + "' is not a header field name";
  switch (field_name(name)) {
    case FieldName::connection:
    case FieldName::keep_alive:
    case FieldName::proxy_connection:
    case FieldName::te:
    case FieldName::trailer:
    case FieldName::transfer_encoding:
    case FieldName::upgrade:
    case FieldName::content_length:
      return "'" + std::string(name) +
             "' is the proxy's own (framing or hop-by-hop): header rules cannot change it";
    default:
      return {};
  }
}

bool is_field_value(std::string_view value) {
  return value.find_first_of("\r\n") == std::string_view::npos &&
         value.find('\0') == std::string_view::npos;
}

// Reads the keys of one [[group]] or [[route]] table; the first problem stops it, with its
// FILE:LINE:COLUMN in `error`.
class TableReader {
 public:
  TableReader(const std::string& file, std::string& error) : file_(file), error_(error) {}

  bool failed() const { return !error_.empty(); }
  void complain(const toml::node& node, const std::string& why) {
    if (error_.empty()) error_ = at(file_, node.source().begin) + ": " + why;
  }
  void complain_key(const toml::key& key, const std::string& why) {
    if (error_.empty()) error_ = at(file_, key.source().begin) + ": " + why;
  }

  std::optional<std::string> string(const toml::key& key, const toml::node& node) {
    if (const auto* s = node.as_string()) return s->get();
    complain(node, "'" + std::string(key.str()) + "' must be a string");
    return std::nullopt;
  }
  std::optional<std::vector<std::string>> strings(const toml::key& key, const toml::node& node) {
    const auto* array = node.as_array();
    if (array == nullptr) {
      complain(node, "'" + std::string(key.str()) + "' must be an array of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (const auto& element : *array) {
      const auto* s = element.as_string();
      if (s == nullptr) {
        complain(element, "'" + std::string(key.str()) + "' must be an array of strings");
        return std::nullopt;
      }
      out.push_back(s->get());
    }
    return out;
  }
  std::optional<int> status(const toml::key& key, const toml::node& node, int min, int max) {
    const auto* i = node.as_integer();
    if (i == nullptr || i->get() < min || i->get() > max) {
      complain(node, "'" + std::string(key.str()) + "' must be an integer from " +
                         std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
    return static_cast<int>(i->get());
  }
  // One entry of a group's upstreams: "URL", or { url = "URL", weight = N } (weight 1 when
  // absent).
  std::optional<std::pair<std::string, unsigned>> member(const toml::node& node) {
    if (const auto* s = node.as_string()) return std::pair{s->get(), 1U};
    const auto* table = node.as_table();
    if (table == nullptr) {
      complain(node, "an upstream is \"URL\" or { url = \"URL\", weight = N }");
      return std::nullopt;
    }
    std::pair<std::string, unsigned> out{"", 1U};
    for (const auto& [key, value] : *table) {
      if (key.str() == "url")
        out.first = string(key, value).value_or("");
      else if (key.str() == "weight")
        out.second = static_cast<unsigned>(status(key, value, 1, 1000).value_or(1));
      else
        complain_key(key, "unknown key '" + std::string(key.str()) + "' in an upstream");
      if (failed()) return std::nullopt;
    }
    if (out.first.empty()) complain(node, "an upstream table needs url = \"URL\"");
    if (failed()) return std::nullopt;
    return out;
  }
  // A duration in seconds (an integer or a float), more than 0 and at most an hour.
  std::optional<std::chrono::milliseconds> seconds(const toml::key& key, const toml::node& node) {
    const std::optional<double> value = node.value<double>();
    if (!value || !(*value > 0) || *value > 3600) {
      complain(node, "'" + std::string(key.str()) + "' must be seconds, more than 0, at most 3600");
      return std::nullopt;
    }
    return std::chrono::milliseconds(static_cast<std::int64_t>(*value * 1000 + 0.5));
  }
  std::optional<bool> boolean(const toml::key& key, const toml::node& node) {
    if (const auto* b = node.as_boolean()) return b->get();
    complain(node, "'" + std::string(key.str()) + "' must be true or false");
    return std::nullopt;
  }
  void set_headers(const toml::key& key, const toml::node& node, HeaderRules& rules) {
    const auto* table = node.as_table();
    if (table == nullptr) {
      complain(node, "'" + std::string(key.str()) + "' must be a table of names and values");
      return;
    }
    for (const auto& [name, value] : *table) {
      const auto* text = value.as_string();
      if (const std::string why = rule_name_problem(name.str()); !why.empty())
        complain_key(name, why);
      else if (text == nullptr || !is_field_value(text->get()))
        complain(value, "the value of header '" + std::string(name.str()) +
                            "' must be a string without CR, LF or NUL");
      else
        rules.set.emplace_back(http::lower_ascii(name.str()), text->get());
    }
  }
  void remove_headers(const toml::key& key, const toml::node& node, HeaderRules& rules) {
    if (auto names = strings(key, node)) {
      for (const auto& name : *names) {
        if (const std::string why = rule_name_problem(name); !why.empty())
          return complain(node, why);
        rules.remove.push_back(http::lower_ascii(name));
      }
    }
  }

 private:
  const std::string& file_;
  std::string& error_;
};

bool read_group(const std::string& file, const toml::table& table, ProxyOptions& options,
                RouteGroup& group, std::string& error) {
  TableReader read(file, error);
  group.source = line_of(file, table);
  bool has_upstreams = false;
  // The upstreams are added once the whole table is read: client-cert may follow them.
  std::vector<std::pair<std::pair<std::string, unsigned>, const toml::node*>> members;
  std::string client_cert, client_key, client_cert_source;
  std::string balance = "round-robin";
  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    if (name == "name") {
      group.name = read.string(key, node).value_or("");
    } else if (name == "upstreams") {
      has_upstreams = true;
      const auto* array = node.as_array();
      if (array == nullptr) read.complain(node, "'upstreams' must be an array");
      for (std::size_t k = 0; array != nullptr && k < array->size(); ++k) {
        const toml::node& element = *array->get(k);
        const auto member = read.member(element);
        if (!member) break;
        members.push_back({*member, &element});
      }
    } else if (name == "client-cert") {
      client_cert = read.string(key, node).value_or("");
      client_cert_source = line_of(file, node);
    } else if (name == "client-key") {
      client_key = read.string(key, node).value_or("");
    } else if (name == "balance") {
      balance = read.string(key, node).value_or("");
      if (balance != "round-robin" && balance != "hash" && balance != "least-conn")
        read.complain(node, "balance must be \"round-robin\", \"least-conn\" or \"hash\"");
      group.least_conn = balance == "least-conn";
    } else if (name == "hash-key") {
      const std::string hash_key = read.string(key, node).value_or("");
      if (hash_key.starts_with("header:") && is_token(hash_key.substr(7)))
        group.hash_header = http::lower_ascii(hash_key.substr(7));
      else if (hash_key != "client-address")
        read.complain(node, "hash-key must be \"client-address\" or \"header:NAME\"");
    } else if (name == "retry-budget") {
      group.retry_budget = static_cast<unsigned>(read.status(key, node, 0, 100).value_or(20));
    } else if (name == "retries") {
      group.retries = static_cast<unsigned>(read.status(key, node, 0, 63).value_or(1));
    } else if (name == "fall") {
      group.health.fall = static_cast<unsigned>(read.status(key, node, 1, 1000).value_or(1));
    } else if (name == "fail-on-timeout") {
      group.health.fail_on_timeout = read.boolean(key, node).value_or(false);
    } else if (name == "health-check-path") {
      group.health.check_path = read.string(key, node).value_or("");
      if (!read.failed() && !group.health.check_path.starts_with('/'))
        read.complain(node, "health-check-path must start with '/'");
    } else if (name == "health-check-interval") {
      group.health.check_interval = read.seconds(key, node).value_or(group.health.check_interval);
    } else if (name == "health-check-timeout") {
      group.health.check_timeout = read.seconds(key, node).value_or(group.health.check_timeout);
    } else if (name == "health-check-status") {
      group.health.check_status = read.status(key, node, 100, 599).value_or(0);
    } else if (name == "rise") {
      group.health.rise = static_cast<unsigned>(read.status(key, node, 1, 1000).value_or(2));
    } else if (name == "fail-on-5xx") {
      group.health.fail_on_5xx = read.boolean(key, node).value_or(false);
    } else {
      read.complain_key(key, "unknown key '" + std::string(name) + "' in [[group]]");
    }
    if (read.failed()) return false;
  }
  if (client_cert.empty() != client_key.empty())
    read.complain(table, "[[group]] '" + group.name + "': client-cert and client-key go together");
  bool any_https = false;
  for (const auto& [member, element] : members) {
    if (read.failed()) break;
    const auto& [url, weight] = member;
    std::string why;
    auto upstream = UpstreamUrl::parse(url, why);
    if (!upstream) {
      read.complain(*element, why);
      break;
    }
    any_https = any_https || upstream->tls;
    if (upstream->tls) {
      upstream->client_cert = client_cert;
      upstream->client_key = client_key;
      upstream->client_cert_source = client_cert_source;
    }
    // One entry per URL and client certificate: groups showing different certificates to the
    // same upstream need connections of their own.
    auto same =
        std::find_if(options.upstreams.begin(), options.upstreams.end(), [&](const UpstreamUrl& u) {
          return u.text == upstream->text && u.client_cert == upstream->client_cert &&
                 u.client_key == upstream->client_key;
        });
    const auto index = static_cast<std::size_t>(same - options.upstreams.begin());
    if (same == options.upstreams.end()) options.upstreams.push_back(std::move(*upstream));
    group.upstreams.push_back(index);
    group.weights.push_back(weight);
    if (index < 64) group.mask |= std::uint64_t{1} << index;
  }
  if (!client_cert.empty() && !any_https && !read.failed())
    read.complain(table, "[[group]] '" + group.name +
                             "': client-cert needs an https:// upstream (it is shown over TLS)");
  if (group.name.empty()) read.complain(table, "[[group]] needs a name");
  if (table.contains("hash-key") && balance != "hash")
    read.complain(table, "hash-key goes with balance = \"hash\"");
  for (const char* key :
       {"health-check-interval", "health-check-timeout", "health-check-status", "rise"})
    if (table.contains(key) && !group.health.active())
      read.complain(table, std::string(key) + " goes with health-check-path");
  if (balance == "hash") {
    std::vector<HashRing::Member> ring;
    for (std::size_t k = 0; k < group.upstreams.size(); ++k)
      ring.push_back(
          {group.upstreams[k], options.upstreams[group.upstreams[k]].text, group.weights[k]});
    group.ring = std::make_shared<const HashRing>(ring);
  }
  if (!has_upstreams || group.upstreams.empty())
    read.complain(table, "[[group]] '" + group.name + "' needs upstreams = [\"http://HOST:PORT\"]");
  return !read.failed();
}

bool read_route(const std::string& file, const toml::table& table, Route& route,
                std::string& error) {
  TableReader read(file, error);
  route.source = line_of(file, table);
  std::optional<int> redirect_status;
  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    if (name == "host") {
      route.host = http::lower_ascii(read.string(key, node).value_or(""));
      const std::string_view bare =
          std::string_view(route.host).substr(route.host.starts_with("*.") ? 2 : 0);
      if (bare.find_first_of("*:/ ") != std::string_view::npos || bare.starts_with('.'))
        read.complain(node, "host '" + route.host +
                                "' must be a name, a \"*.\" wildcard or \"\" (any host), "
                                "without port");
    } else if (name == "path") {
      route.path = read.string(key, node).value_or("/");
      if (!route.path.starts_with('/')) read.complain(node, "path must start with '/'");
    } else if (name == "methods") {
      for (const auto& method : read.strings(key, node).value_or(std::vector<std::string>{})) {
        const std::uint16_t bit = method_bit(method);
        if (bit == 0) {
          read.complain(node, "unknown method '" + method + "' (methods are upper case: GET, ...)");
          break;
        }
        route.methods = static_cast<std::uint16_t>(route.methods | bit);
      }
    } else if (name == "group") {
      route.group_name = read.string(key, node).value_or("");
    } else if (name == "rewrite-prefix") {
      route.rewrite_prefix = read.string(key, node);
    } else if (name == "redirect") {
      route.action = Route::Action::redirect;
      route.location = read.string(key, node).value_or("");
      if (!is_field_value(route.location))
        read.complain(node, "redirect must not hold CR, LF or NUL");
    } else if (name == "redirect-status") {
      redirect_status = read.status(key, node, 301, 308);
      if (redirect_status && (*redirect_status == 304 || *redirect_status == 305 ||
                              *redirect_status == 306 || *redirect_status == 303))
        read.complain(node, "redirect-status must be 301, 302, 307 or 308");
    } else if (name == "status") {
      route.action = Route::Action::answer;
      route.status = read.status(key, node, 200, 599).value_or(0);
    } else if (name == "body") {
      route.body = read.string(key, node).value_or("");
    } else if (name == "set-request-headers") {
      read.set_headers(key, node, route.request_headers);
    } else if (name == "remove-request-headers") {
      read.remove_headers(key, node, route.request_headers);
    } else if (name == "set-response-headers") {
      read.set_headers(key, node, route.response_headers);
    } else if (name == "remove-response-headers") {
      read.remove_headers(key, node, route.response_headers);
    } else {
      read.complain_key(key, "unknown key '" + std::string(name) + "' in [[route]]");
    }
    if (read.failed()) return false;
  }
  const int actions = (table.contains("group") ? 1 : 0) + (table.contains("redirect") ? 1 : 0) +
                      (table.contains("status") ? 1 : 0);
  if (actions != 1)
    read.complain(table, "[[route]] needs exactly one of group, redirect or status");
  else if (route.rewrite_prefix && route.action != Route::Action::proxy)
    read.complain(table, "rewrite-prefix goes with group");
  else if (redirect_status && route.action != Route::Action::redirect)
    read.complain(table, "redirect-status goes with redirect");
  else if (table.contains("body") && route.action != Route::Action::answer)
    read.complain(table, "body goes with status");
  else if (route.rewrite_prefix && !route.rewrite_prefix->starts_with('/'))
    read.complain(table, "rewrite-prefix must start with '/'");
  if (route.action == Route::Action::redirect) route.status = redirect_status.value_or(301);
  return !read.failed();
}

// The array of tables under `name`, or nullptr.
const toml::array* tables(const toml::table& root, std::string_view name) {
  const toml::node* node = root.get(name);
  return node == nullptr ? nullptr : node->as_array();
}

}  // namespace

std::vector<std::string> route_table_keys() {
  return {"group", "route"};
}

bool read_routes(const Args& args, ProxyOptions& options, std::string& error,
                 std::vector<std::string>& warnings) {
  const std::string& file = args.config_file();
  if (args.config_text().empty()) return true;
  toml::table root;
  try {
    root = toml::parse(args.config_text(), file);
  } catch (const toml::parse_error& e) {
    error = at(file, e.source().begin) + ": " + std::string(e.description());
    return false;
  }
  const toml::array* group_tables = tables(root, "group");
  const toml::array* route_tables = tables(root, "route");
  if (route_tables == nullptr || route_tables->empty()) {
    if (group_tables != nullptr && !group_tables->empty()) {
      error = line_of(file, *group_tables->get(0)) +
              ": [[group]] without any [[route]]: add routes, or give the upstreams with "
              "upstream = [...]";
      return false;
    }
    return true;
  }

  // The --upstream URLs (read before the tables) are the group "default" when a route asks
  // for it and no [[group]] takes the name.
  const std::size_t flag_upstreams = options.upstreams.size();
  std::vector<RouteGroup> groups;
  if (group_tables != nullptr) {
    for (const auto& node : *group_tables) {
      RouteGroup group;
      if (!read_group(file, *node.as_table(), options, group, error)) return false;
      groups.push_back(std::move(group));
    }
  }
  std::vector<Route> routes;
  for (const auto& node : *route_tables) {
    Route route;
    if (!read_route(file, *node.as_table(), route, error)) return false;
    routes.push_back(std::move(route));
  }
  const auto named = [&groups](std::string_view name) {
    return std::any_of(groups.begin(), groups.end(),
                       [name](const RouteGroup& g) { return g.name == name; });
  };
  const bool wants_default = std::any_of(routes.begin(), routes.end(), [](const Route& r) {
    return r.action == Route::Action::proxy && r.group_name == "default";
  });
  if (flag_upstreams > 0 && wants_default && !named("default")) {
    RouteGroup group;
    group.name = "default";
    group.source = "--upstream";
    for (std::size_t i = 0; i < flag_upstreams; ++i) {
      group.upstreams.push_back(i);
      group.weights.push_back(1);
      group.mask |= std::uint64_t{1} << i;
    }
    groups.push_back(std::move(group));
  }

  std::vector<RouteTable::Problem> problems;
  options.routes = RouteTable::build(std::move(groups), std::move(routes), problems);
  for (const auto& problem : problems) {
    if (!problem.error)
      warnings.push_back(problem.text);
    else
      error += (error.empty() ? "" : "\n") + problem.text;
  }
  return options.routes != nullptr;
}

}  // namespace apps::proxy
