// apps::read_http2: the --h2-... options reach Http2Limits, bad values are refused, and an
// app's own --max-header-bytes and --body-timeout stand in for the HTTP/2 ones left unset.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/common/Http2Options.hpp"

namespace {

apps::Args make(std::vector<apps::Args::Option> own = {}) {
  auto options = apps::http2_options();
  options.insert(options.end(), own.begin(), own.end());
  apps::Args args("prog", "summary", std::move(options));
  args.set_quiet(true);
  return args;
}

bool parse(apps::Args& args, std::vector<const char*> argv) {
  argv.insert(argv.begin(), "prog");
  return args.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
}

}  // namespace

TEST_CASE("read_http2: the defaults are Http2Limits' own") {
  auto args = make();
  REQUIRE(parse(args, {}));
  apps::Http2Settings settings;
  REQUIRE(apps::read_http2(args, settings));
  const apps::http::Http2Limits defaults;
  const auto& l = settings.limits;
  CHECK(settings.enabled);
  CHECK(l.max_concurrent_streams == defaults.max_concurrent_streams);
  CHECK(l.max_header_list_bytes == defaults.max_header_list_bytes);
  CHECK(l.stream_window == defaults.stream_window);
  CHECK(l.stream_high == defaults.stream_high);
  CHECK(l.stream_low == defaults.stream_low);
  CHECK(l.output_high == defaults.output_high);
  CHECK(l.reset_budget == defaults.reset_budget);
  CHECK(l.flood_budget == defaults.flood_budget);
  CHECK(l.flood_refill == defaults.flood_refill);
  CHECK(l.max_continuations == defaults.max_continuations);
  CHECK(l.max_settings == defaults.max_settings);
  CHECK(l.max_outbound_ack == defaults.max_outbound_ack);
  CHECK(l.stall_timeout == defaults.stall_timeout);
}

TEST_CASE("read_http2: every --h2 option reaches its limit") {
  auto args = make();
  REQUIRE(parse(args, {"--http2",
                       "off",
                       "--h2-max-concurrent-streams",
                       "7",
                       "--h2-max-header-bytes",
                       "4096",
                       "--h2-stream-window",
                       "32768",
                       "--h2-stream-buffer",
                       "131072",
                       "--h2-output-buffer",
                       "32768",
                       "--h2-reset-budget",
                       "9",
                       "--h2-flood-budget",
                       "11",
                       "--h2-flood-refill",
                       "2",
                       "--h2-max-continuations",
                       "3",
                       "--h2-max-settings",
                       "16",
                       "--h2-max-queued-acks",
                       "64",
                       "--h2-stall-timeout",
                       "2.5"}));
  apps::Http2Settings settings;
  REQUIRE(apps::read_http2(args, settings));
  const auto& l = settings.limits;
  CHECK_FALSE(settings.enabled);
  CHECK(l.max_concurrent_streams == 7);
  CHECK(l.max_header_list_bytes == 4096);
  CHECK(l.stream_window == 32768);
  CHECK(l.stream_high == 131072);
  CHECK(l.stream_low == 32768);
  CHECK(l.output_high == 32768);
  CHECK(l.reset_budget == 9);
  CHECK(l.flood_budget == 11);
  CHECK(l.flood_refill == 2);
  CHECK(l.max_continuations == 3);
  CHECK(l.max_settings == 16);
  CHECK(l.max_outbound_ack == 64);
  CHECK(l.stall_timeout == std::chrono::milliseconds(2500));
}

TEST_CASE("read_http2: out-of-range and malformed values are refused, naming the option") {
  for (const auto& [name, value] : std::vector<std::pair<const char*, const char*>>{
           {"--http2", "maybe"},
           {"--h2-max-concurrent-streams", "0"},
           {"--h2-stream-window", "2147483648"},  // over RFC 9113's 2^31 - 1
           {"--h2-stream-buffer", "12"},
           {"--h2-reset-budget", "-1"},
           {"--h2-flood-budget", "lots"},
           {"--h2-max-header-bytes", "100"},
           {"--h2-stall-timeout", "soon"}}) {
    CAPTURE(name);
    auto args = make();
    REQUIRE(parse(args, {name, value}));
    apps::Http2Settings settings;
    CHECK_FALSE(apps::read_http2(args, settings));
    CHECK(args.last_error().find(std::string(name).substr(2)) != std::string::npos);
  }
}

TEST_CASE("read_http2: an app's --max-header-bytes and --body-timeout stand in, --h2 ones win") {
  const std::vector<apps::Args::Option> own = {
      {"max-header-bytes", "N", "request head size limit", "8192"},
      {"body-timeout", "SECONDS", "longest pause in a request body", "7"}};
  auto app = make(own);
  REQUIRE(parse(app, {}));
  apps::Http2Settings settings;
  REQUIRE(apps::read_http2(app, settings));
  CHECK(settings.limits.max_header_list_bytes == 8192);
  CHECK(settings.limits.stall_timeout == std::chrono::seconds(7));

  auto both = make(own);
  REQUIRE(parse(both, {"--h2-max-header-bytes", "2048", "--h2-stall-timeout", "3"}));
  REQUIRE(apps::read_http2(both, settings));
  CHECK(settings.limits.max_header_list_bytes == 2048);
  CHECK(settings.limits.stall_timeout == std::chrono::seconds(3));
}
