// Command-line parsing shared by the sample apps: "--name value" and "--flag" options, some
// repeatable, a generated --help, values a --config file supplies (the command line wins), and
// errors that name the option and, for a value from the file, its FILE:LINE:COLUMN.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reactor/Address.hpp"

namespace apps {

class Args {
 public:
  struct Option {
    std::string name;        // without the leading "--"
    std::string value_name;  // empty: a flag without a value
    std::string help;
    std::string default_value;
    // Given several times, every value counts, in order (values()); otherwise the last wins.
    bool repeatable = false;
    // Read once at start (listeners, loops): a SIGHUP reload logs a change and keeps the old value.
    bool restart_only = false;
  };

  Args(std::string program, std::string summary, std::vector<Option> options);

  // Parses argv, then reads the --config file if there is one (see apps/common/ConfigFile.hpp).
  // Returns false (after printing the reason, or what --help or --version asked for) when the
  // program should exit; exit_code() then says with which status (1 under --check, 2 otherwise).
  bool parse(int argc, char** argv);
  int exit_code() const { return exit_code_; }

  const std::string& program() const { return program_; }
  const std::vector<Option>& options() const { return options_; }
  const Option* find(const std::string& name) const;

  // Set on the command line (not by the config file, not a default).
  bool given(const std::string& name) const;
  bool flag(const std::string& name) const;
  std::string get(const std::string& name) const;  // the last value, or the default
  // Every value of a repeatable option in order: the command line's if it has any, else the
  // config file's, else the default (if not empty).
  std::vector<std::string> values(const std::string& name) const;
  // A comma-separated value as its items ("a,b" -> {"a", "b"}; "" -> {}).
  std::vector<std::string> list(const std::string& name) const;
  static std::vector<std::string> split(const std::string& text);
  // Typed getters: report "PROGRAM: --NAME: reason" (or "PROGRAM: FILE:LINE:COL: NAME: reason"
  // for a value from the config file) and return nullopt on a bad value.
  std::optional<reactor::HostPort> host_port(const std::string& name) const;
  std::optional<unsigned> count(const std::string& name, unsigned min, unsigned max) const;
  // Seconds as a decimal ("1", "0.25"); 0 means "off".
  std::optional<std::chrono::milliseconds> seconds(const std::string& name) const;

  // Where the value get() returns comes from: "" (command line or default) or "FILE:LINE:COL".
  std::string origin(const std::string& name) const;
  // `message` (an error about `name`, "--upstream ftp://x: ...") prefixed with where the
  // config file set that value ("proxy.toml:3:12: --upstream ftp://x: ..."), if it did.
  std::string located(const std::string& name, const std::string& message) const;
  // Reports a bad value of `name` the way the typed getters do; apps use it for their own checks.
  void complain(const std::string& name, const std::string& reason) const;
  // The last complaint, without the program name. Quiet Args only record it (a reload logs it
  // instead of printing it).
  const std::string& last_error() const { return last_error_; }
  void set_quiet(bool quiet) { quiet_ = quiet; }

  // The config file layer, below the command line. ConfigFile fills it; a reload clears and
  // refills it.
  void set_file_values(const std::string& name, std::vector<std::string> values,
                       std::string origin);
  void clear_file_values() {
    file_.clear();
    config_file_.clear();
    config_text_.clear();
  }
  // Top-level config file keys that hold arrays of tables ("[[route]]") the app reads itself
  // from config_text(); set before parse(). Any other table stays an error.
  void set_table_keys(std::vector<std::string> keys) { table_keys_ = std::move(keys); }
  const std::vector<std::string>& table_keys() const { return table_keys_; }
  // The config file's name and text as last read, for the app's own tables; empty when there
  // is no config file.
  void set_config_source(std::string file, std::string text) {
    config_file_ = std::move(file);
    config_text_ = std::move(text);
  }
  const std::string& config_file() const { return config_file_; }
  const std::string& config_text() const { return config_text_; }

  void print_help() const;
  void print_version() const;

 private:
  struct Values {
    std::vector<std::string> items;
    std::string origin;
  };
  const Values* effective(const std::string& name) const;

  std::string program_;
  std::string summary_;
  std::vector<Option> options_;
  std::map<std::string, Values> command_line_;
  std::map<std::string, Values> file_;
  std::vector<std::string> table_keys_;
  std::string config_file_, config_text_;
  int exit_code_ = 0;
  bool quiet_ = false;
  mutable std::string last_error_;
};

}  // namespace apps
