// The command line of bench-tls-load, parsed and checked once at start.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "reactor/Address.hpp"

namespace bench::tls_load {

enum class Mode { handshake, hold };

struct Options {
  Mode mode = Mode::handshake;
  reactor::Address target;  // always a loopback address
  unsigned connections = 50;
  unsigned requests = 10000;
  std::chrono::milliseconds duration{30000};
  bool resume = false;
  std::string path = "/";
  bool tls12 = false;
  std::string cipher;   // empty: OpenSSL's default
  std::string ca_file;  // empty: no verification
  std::string sni = "localhost";
  unsigned source_ips = 1;
  bool json = false;
};

// Parses argv. nullopt when the program should exit (bad option, --help); `exit_code` then says
// with which status.
std::optional<Options> parse_options(int argc, char** argv, int& exit_code);

// Whether `address` is in 127.0.0.0/8 or is ::1: the only targets this load client accepts.
bool is_loopback(const reactor::Address& address);

}  // namespace bench::tls_load
