// --config FILE: a TOML file whose keys are the long option names, read as the defaults the
// command line overrides (nginx.conf's role; `tlsreactor-hello --config hello.toml --threads 4`
// runs 4 threads whatever the file says).
//
//   listen = "127.0.0.1:8443"               # an option with a value: a string or a number
//   threads = 2
//   idle-timeout = 0.5                      # seconds may be fractional
//   tls = true                              # a flag: true or false (false = not set)
//   cert = ["a.pem", "b.pem"]               # a repeatable option: an array (or one string)
//   ticket-key = ["new.key", "old.key"]     # a comma-list option: an array (or "a,b")
//
// Unknown keys, tables and wrong types are errors, as are the command-line-only --config, --check
// and --help; but for the arrays of tables an app declared with Args::set_table_keys, which it
// reads itself from Args::config_text(). Every error starts with FILE:LINE:COLUMN.
#pragma once

#include <string>
#include <string_view>

#include "apps/common/Args.hpp"

namespace apps {

// Replaces `args`' config file layer with the file the command line's --config names (nothing
// when there is none). On failure returns false, leaves the layer empty and sets `error`, e.g.
// "proxy.toml:7:1: unknown key 'upstreams'".
bool load_config(Args& args, std::string& error);

// The same for TOML text already read; `file` is the name errors start with.
bool apply_config(Args& args, std::string_view text, const std::string& file, std::string& error);

}  // namespace apps
