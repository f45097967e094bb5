#include "bench/tls_load/Options.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

#include "apps/common/Args.hpp"

namespace bench::tls_load {

namespace {

const char* const summary =
    "A TLS load client for benchmarks, one thread, loopback targets only (127.0.0.0/8, ::1).\n"
    "--mode handshake: a new connection per request (connect, handshake, GET with\n"
    "Connection: close, read the response, close), --connections of them in flight.\n"
    "--mode hold: open --connections connections, one keep-alive GET each, then keep them\n"
    "idle (the client frees its TLS state and keeps only the socket); prints 'ready N' once\n"
    "all are up, holds for --duration seconds after that or until SIGTERM/SIGINT.\n"
    "The server certificate is NOT verified unless --ca is given: this is a benchmark.";

std::vector<apps::Args::Option> option_table() {
  return {
      {"connect", "HOST:PORT", "the server (a loopback address, or localhost)", ""},
      {"mode", "MODE", "handshake or hold", "handshake"},
      {"connections", "N", "handshake: connections in flight at once; hold: connections held",
       "50"},
      {"requests", "N", "handshake: stop after N attempts (completed requests + errors)", "10000"},
      {"duration", "S", "handshake: stop early after S seconds; hold: hold S seconds after 'ready'",
       "30"},
      {"resume", "",
       "handshake: resume sessions with tickets from earlier connections\n"
       "(without it no session is ever offered: every handshake is full)",
       ""},
      {"path", "P", "request path", "/"},
      {"tls13", "", "TLS 1.3 only (the default)", ""},
      {"tls12", "", "TLS 1.2 only", ""},
      {"cipher", "NAME", "TLS 1.3 ciphersuite (with --tls12: an OpenSSL cipher list)", ""},
      {"ca", "FILE", "verify the server against this CA (default: no verification)", ""},
      {"sni", "NAME", "SNI and Host header", "localhost"},
      {"source-ips", "N",
       "hold: bind connections to 127.0.0.1 .. 127.0.0.N in turn, to get past the\n"
       "ephemeral port range of one source address",
       "1"},
      {"json", "", "print the summary as one JSON object", ""},
  };
}

bool fail(int& exit_code, const char* format, const std::string& what) {
  std::fprintf(stderr, "bench-tls-load: ");
  std::fprintf(stderr, format, what.c_str());
  std::fprintf(stderr, "\n");
  exit_code = 2;
  return false;
}

// "localhost" is the one name accepted; everything else must be an IP literal, so nothing is
// resolved and nothing can point away from this machine.
bool resolve_target(const apps::Args& args, Options& options, int& exit_code) {
  if (args.get("connect").empty()) return fail(exit_code, "--connect HOST:PORT is required%s", "");
  const auto hp = args.host_port("connect");
  if (!hp) {
    exit_code = 2;
    return false;
  }
  const std::string ip = hp->host == "localhost" ? "127.0.0.1" : hp->host;
  const auto address = reactor::Address::from_ip(ip, hp->port);
  if (!address)
    return fail(exit_code,
                "--connect: '%s' is not an IP literal (only loopback addresses and localhost "
                "are accepted)",
                hp->host);
  if (!is_loopback(*address))
    return fail(exit_code,
                "--connect: %s is not a loopback address; this load client only targets "
                "127.0.0.0/8 and ::1",
                address->ip());
  if (hp->port == 0) return fail(exit_code, "--connect: port 0 in '%s'", args.get("connect"));
  options.target = *address;
  return true;
}

}  // namespace

bool is_loopback(const reactor::Address& address) {
  const sockaddr* sa = address.sockaddr_ptr();
  if (address.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (address.family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return std::memcmp(&in6->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback) == 0;
  }
  return false;
}

std::optional<Options> parse_options(int argc, char** argv, int& exit_code) {
  apps::Args args("bench-tls-load", summary, option_table());
  if (!args.parse(argc, argv)) {
    exit_code = args.exit_code();
    return std::nullopt;
  }
  exit_code = 2;
  Options o;
  if (!resolve_target(args, o, exit_code)) return std::nullopt;
  const std::string mode = args.get("mode");
  if (mode != "handshake" && mode != "hold") {
    args.complain("mode", "expected handshake or hold, got '" + mode + "'");
    return std::nullopt;
  }
  o.mode = mode == "hold" ? Mode::hold : Mode::handshake;
  const auto connections = args.count("connections", 1, 1'000'000);
  const auto requests = args.count("requests", 1, 1'000'000'000);
  const auto duration = args.seconds("duration");
  const auto source_ips = args.count("source-ips", 1, 254);
  if (!connections || !requests || !duration || !source_ips) return std::nullopt;
  if (duration->count() == 0) {
    args.complain("duration", "must be more than 0");
    return std::nullopt;
  }
  o.connections = *connections;
  o.requests = *requests;
  o.duration = *duration;
  o.source_ips = *source_ips;
  if (o.source_ips > 1 && o.target.family() != AF_INET) {
    args.complain("source-ips", "needs an IPv4 target (the sources are 127.0.0.x)");
    return std::nullopt;
  }
  if (args.flag("tls12") && args.flag("tls13")) {
    args.complain("tls12", "--tls12 and --tls13 exclude each other");
    return std::nullopt;
  }
  o.tls12 = args.flag("tls12");
  o.resume = args.flag("resume");
  if (o.resume && o.mode == Mode::hold) {
    args.complain("resume", "only for --mode handshake");
    return std::nullopt;
  }
  o.path = args.get("path");
  if (o.path.empty() || o.path.front() != '/' ||
      o.path.find_first_of(" \r\n") != std::string::npos) {
    args.complain("path", "expected an absolute path without spaces, got '" + o.path + "'");
    return std::nullopt;
  }
  o.sni = args.get("sni");
  if (o.sni.empty() || o.sni.find_first_of(" \r\n") != std::string::npos) {
    args.complain("sni", "expected a host name, got '" + o.sni + "'");
    return std::nullopt;
  }
  o.cipher = args.get("cipher");
  o.ca_file = args.get("ca");
  o.json = args.flag("json");
  exit_code = 0;
  return o;
}

}  // namespace bench::tls_load
