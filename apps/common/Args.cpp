#include "apps/common/Args.hpp"

#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <uv.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string_view>

#include "apps/common/ConfigFile.hpp"

namespace apps {

Args::Args(std::string program, std::string summary, std::vector<Option> options)
    : program_(std::move(program)), summary_(std::move(summary)), options_(std::move(options)) {
  options_.push_back({"help", "", "show this help and exit", ""});
  options_.push_back(
      {"version", "",
       "show the version, and OpenSSL's and libuv's (built with, running with); exit", ""});
}

const Args::Option* Args::find(const std::string& name) const {
  for (const auto& o : options_)
    if (o.name == name) return &o;
  return nullptr;
}

void Args::complain(const std::string& name, const std::string& reason) const {
  const std::string where = origin(name);
  last_error_ = (where.empty() ? "--" + name : where + ": " + name) + ": " + reason;
  if (!quiet_) std::cerr << program_ << ": " << last_error_ << "\n";
}

bool Args::parse(int argc, char** argv) {
  // Under --check every failure exits 1, wherever --check stands on the line.
  bool checking = false;
  for (int i = 1; i < argc; ++i) checking = checking || std::string_view(argv[i]) == "--check";
  const int bad_exit = checking ? 1 : 2;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      std::cerr << program_ << ": unexpected argument '" << arg << "' (see --help)\n";
      exit_code_ = bad_exit;
      return false;
    }
    arg.erase(0, 2);
    std::string value;
    bool has_inline = false;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      has_inline = true;
    }
    const Option* option = find(arg);
    if (option == nullptr) {
      std::cerr << program_ << ": unknown option --" << arg << " (see --help)\n";
      exit_code_ = bad_exit;
      return false;
    }
    if (option->value_name.empty()) {
      value = "1";
    } else if (!has_inline) {
      if (i + 1 >= argc) {
        complain(arg, "needs a value " + option->value_name);
        exit_code_ = bad_exit;
        return false;
      }
      value = argv[++i];
    }
    auto& items = command_line_[arg].items;
    if (!option->repeatable) items.clear();
    items.push_back(std::move(value));
  }
  if (flag("help")) {
    print_help();
    exit_code_ = 0;
    return false;
  }
  if (flag("version")) {
    print_version();
    exit_code_ = 0;
    return false;
  }
  if (find("config") != nullptr && given("config")) {
    std::string error;
    if (!load_config(*this, error)) {
      last_error_ = error;
      std::cerr << program_ << ": " << error << "\n";
      exit_code_ = bad_exit;
      return false;
    }
  }
  return true;
}

const Args::Values* Args::effective(const std::string& name) const {
  if (auto it = command_line_.find(name); it != command_line_.end()) return &it->second;
  if (auto it = file_.find(name); it != file_.end()) return &it->second;
  return nullptr;
}

bool Args::given(const std::string& name) const {
  return command_line_.count(name) != 0;
}

bool Args::flag(const std::string& name) const {
  return effective(name) != nullptr;
}

std::string Args::get(const std::string& name) const {
  if (const Values* v = effective(name); v != nullptr && !v->items.empty()) return v->items.back();
  const Option* o = find(name);
  return o != nullptr ? o->default_value : std::string();
}

std::vector<std::string> Args::values(const std::string& name) const {
  if (const Values* v = effective(name)) return v->items;
  const Option* o = find(name);
  if (o == nullptr || o->default_value.empty()) return {};
  return {o->default_value};
}

std::string Args::origin(const std::string& name) const {
  if (given(name)) return {};
  const auto it = file_.find(name);
  return it == file_.end() ? std::string() : it->second.origin;
}

std::string Args::located(const std::string& name, const std::string& message) const {
  const std::string where = origin(name);
  return where.empty() ? message : where + ": " + message;
}

void Args::set_file_values(const std::string& name, std::vector<std::string> values,
                           std::string origin) {
  file_[name] = Values{std::move(values), std::move(origin)};
}

std::vector<std::string> Args::list(const std::string& name) const {
  return split(get(name));
}

std::vector<std::string> Args::split(const std::string& text) {
  std::vector<std::string> items;
  for (std::string rest = text; !rest.empty();) {
    const auto comma = rest.find(',');
    items.push_back(rest.substr(0, comma));
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  return items;
}

std::optional<reactor::HostPort> Args::host_port(const std::string& name) const {
  auto hp = reactor::HostPort::parse(get(name));
  if (!hp) complain(name, "expected HOST:PORT (IPv6 as [ADDR]:PORT), got '" + get(name) + "'");
  return hp;
}

std::optional<unsigned> Args::count(const std::string& name, unsigned min, unsigned max) const {
  const std::string text = get(name);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    complain(name, "expected a whole number from " + std::to_string(min) + " to " +
                       std::to_string(max) + ", got '" + text + "'");
    return std::nullopt;
  }
  return value;
}

std::optional<std::chrono::milliseconds> Args::seconds(const std::string& name) const {
  const std::string text = get(name);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) || value < 0 ||
      value > 86400.0 * 365) {
    complain(name, "expected seconds (e.g. 30 or 0.5), got '" + text + "'");
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<long long>(std::llround(value * 1000)));
}

// Built-with and running-with apart: a package upgrade of the shared libraries changes the
// second, and a bug report needs both.
void Args::print_version() const {
  std::cout << program_ << " " << TLSREACTOR_VERSION << " (git " << TLSREACTOR_GIT_REVISION << ")\n"
            << "OpenSSL: built with " << OPENSSL_VERSION_TEXT << ", running with "
            << OpenSSL_version(OPENSSL_VERSION) << "\n"
            << "libuv: built with " << UV_VERSION_MAJOR << "." << UV_VERSION_MINOR << "."
            << UV_VERSION_PATCH << ", running with " << uv_version_string() << "\n";
}

void Args::print_help() const {
  std::cout << "usage: " << program_ << " [options]\n\n" << summary_ << "\n\noptions:\n";
  for (const auto& o : options_) {
    std::string left = "  --" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    if (left.size() < 30)
      left.resize(30, ' ');
    else
      left += "\n" + std::string(30, ' ');
    // Continuation lines of a long help text line up under its first line.
    std::string help = o.help;
    for (std::size_t at = help.find('\n'); at != std::string::npos; at = help.find('\n', at + 31))
      help.insert(at + 1, std::string(30, ' '));
    std::cout << left << help;
    if (o.repeatable) std::cout << " (repeatable)";
    if (!o.default_value.empty()) std::cout << " (default: " << o.default_value << ")";
    std::cout << "\n";
  }
}

}  // namespace apps
