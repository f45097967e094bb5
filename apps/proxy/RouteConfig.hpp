// The proxy's [[group]] and [[route]] tables in its --config file (docs/proxy.md, "Routes"):
//
//   [[group]]
//   name = "app"
//   upstreams = [{ url = "http://127.0.0.1:8081", weight = 3 }, "http://127.0.0.1:8082"]
//   balance = "hash"              # or "least-conn", or "round-robin" (the default)
//   hash-key = "header:X-User"    # or "client-address" (the default)
//   retry-budget = 20             # percent of its requests in flight that may retry (20)
//   retries = 2                   # other members a failed request may move to (1)
//   fall = 3                      # failures in a row that mark an upstream down (1)
//   fail-on-5xx = true            # a 5xx answer is such a failure (false)
//   fail-on-timeout = true        # a response timeout is one (false)
//
//   [[route]]
//   host = "*.example.com"        # "" or absent: any host
//   path = "/api/"                # a prefix; "/" when absent
//   methods = ["GET", "HEAD"]     # absent: any method
//   group = "app"                 # or redirect = "https://$host$request_uri", or status = 404
//   rewrite-prefix = "/"
//   set-request-headers = { "X-Env" = "prod" }
//   remove-response-headers = ["server"]
//
// The --upstream URLs form the group "default" (unless a [[group]] takes that name).
#pragma once

#include <string>
#include <vector>

#include "apps/common/Args.hpp"
#include "apps/proxy/ProxyOptions.hpp"

namespace apps::proxy {

// The table names Args must accept in the config file (Args::set_table_keys).
std::vector<std::string> route_table_keys();

// Reads the tables of args' config file into options.routes (left null when there are no
// routes: every request goes to every --upstream, round robin), adding the groups' upstreams
// to options.upstreams. On an error returns false with `error` holding every error found, one
// a line, each starting with FILE:LINE; warnings (a group no route uses) are appended to
// `warnings` either way.
bool read_routes(const Args& args, ProxyOptions& options, std::string& error,
                 std::vector<std::string>& warnings);

}  // namespace apps::proxy
