// Command-line parsing shared by the sample apps: "--name value" and "--flag" options, a
// generated --help, and errors that name the option.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
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
  };

  Args(std::string program, std::string summary, std::vector<Option> options);

  // Parses argv. Returns false (after printing the reason, or the help text for --help) when
  // the program should exit; exit_code() then says with which status.
  bool parse(int argc, char** argv);
  int exit_code() const { return exit_code_; }
  const Option* find(const std::string& name) const;

  bool flag(const std::string& name) const;
  std::string get(const std::string& name) const;  // the value or the default
  // Every value of a repeatable option in order, else the default (if not empty).
  std::vector<std::string> values(const std::string& name) const;
  // A comma-separated value as its items ("a,b" -> {"a", "b"}; "" -> {}).
  std::vector<std::string> list(const std::string& name) const;
  // Typed getters: print "PROGRAM: --NAME: reason" and return nullopt on a bad value.
  std::optional<reactor::HostPort> host_port(const std::string& name) const;
  std::optional<unsigned> count(const std::string& name, unsigned min, unsigned max) const;
  // Seconds as a decimal ("1", "0.25"); 0 means "off".
  std::optional<std::chrono::milliseconds> seconds(const std::string& name) const;

  void print_help() const;

 private:
  void complain(const std::string& name, const std::string& reason) const;

  std::string program_;
  std::string summary_;
  std::vector<Option> options_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> repeated_;  // repeatable options' values
  int exit_code_ = 0;
};

}  // namespace apps
