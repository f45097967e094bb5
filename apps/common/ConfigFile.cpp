#include "apps/common/ConfigFile.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <toml++/toml.h>

namespace apps {
namespace {

std::string where(const std::string& file, const toml::source_position& at) {
  return file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
}

std::string type_name(toml::node_type type) {
  static constexpr std::array<std::pair<toml::node_type, const char*>, 9> names{{
      {toml::node_type::table, "a table"},
      {toml::node_type::array, "an array"},
      {toml::node_type::string, "a string"},
      {toml::node_type::integer, "an integer"},
      {toml::node_type::floating_point, "a number"},
      {toml::node_type::boolean, "a boolean"},
      {toml::node_type::date, "a date"},
      {toml::node_type::time, "a time"},
      {toml::node_type::date_time, "a date-time"},
  }};
  for (const auto& [t, name] : names)
    if (t == type) return name;
  return "nothing";
}

// A string or a number as the text a command line would carry ("2", "0.5").
std::optional<std::string> scalar_text(const toml::node& node) {
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* f = node.as_floating_point()) {
    std::array<char, 32> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), f->get());
    if (ec == std::errc()) return std::string(buf.data(), end);
  }
  return std::nullopt;
}

// One key's value as Args items, or an error sentence without the location.
bool to_items(const Args::Option& option, const toml::node& node, std::vector<std::string>& items,
              std::string& error) {
  const std::string key = "'" + option.name + "'";
  if (option.value_name.empty()) {
    if (const auto* b = node.as_boolean()) {
      if (b->get()) items.push_back("1");
      return true;
    }
    error = key + " is a flag: expected true or false, got " + type_name(node.type());
    return false;
  }
  const bool comma_list = option.value_name.find(",") != std::string::npos;
  if (const auto* array = node.as_array(); array != nullptr && (option.repeatable || comma_list)) {
    std::string joined;
    for (const auto& element : *array) {
      const auto text = scalar_text(element);
      if (!text) {
        error = key + ": expected strings in the array, got " + type_name(element.type()) + " at " +
                std::to_string(element.source().begin.line) + ":" +
                std::to_string(element.source().begin.column);
        return false;
      }
      if (option.repeatable) items.push_back(*text);
      joined += (joined.empty() ? "" : ",") + *text;
    }
    if (comma_list && !option.repeatable) items.push_back(joined);
    return true;
  }
  if (auto text = scalar_text(node)) {
    items.push_back(std::move(*text));
    return true;
  }
  error = key + ": expected " +
          std::string(option.repeatable || comma_list ? "a string or an array of strings"
                                                      : "a string or a number") +
          " (" + option.value_name + "), got " + type_name(node.type());
  return false;
}

bool command_line_only(const std::string& name) {
  return name == "config" || name == "check" || name == "help" || name == "version";
}

}  // namespace

bool apply_config(Args& args, std::string_view text, const std::string& file, std::string& error) {
  args.clear_file_values();
  toml::table table;
  try {
    table = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    error = where(file, e.source().begin) + ": " + std::string(e.description());
    return false;
  }
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    const std::string at = where(file, key.source().begin);
    const auto& tables = args.table_keys();
    if (std::find(tables.begin(), tables.end(), name) != tables.end()) {
      if (node.is_array_of_tables()) continue;  // the app's own: it reads config_text()
      error = at + ": '" + name + "' takes [[" + name + "]] tables, got " + type_name(node.type());
      args.clear_file_values();
      return false;
    }
    const Args::Option* option = args.find(name);
    if (option == nullptr || command_line_only(name)) {
      error = at + (option == nullptr ? ": unknown key '" + name + "'"
                                      : ": '" + name + "' belongs on the command line only");
      args.clear_file_values();
      return false;
    }
    std::vector<std::string> items;
    std::string why;
    if (!to_items(*option, node, items, why)) {
      error = where(file, node.source().begin) + ": " + why;
      args.clear_file_values();
      return false;
    }
    if (!items.empty())
      args.set_file_values(name, std::move(items), where(file, node.source().begin));
  }
  args.set_config_source(file, std::string(text));
  return true;
}

bool load_config(Args& args, std::string& error) {
  args.clear_file_values();
  if (!args.given("config")) return true;
  const std::string file = args.get("config");
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = file + ": cannot read the configuration file: " + std::strerror(errno);
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return apply_config(args, text.str(), file, error);
}

}  // namespace apps
