// Harness (f): the --config TOML reader (toml++ plus our mapping of keys onto options), fed
// arbitrary file text. Input: the text.
// Properties: no crash, leak or hang; a refused file names where ("fuzz.toml:LINE:COL: ...")
// and leaves no value of its own behind; an accepted file only sets options that exist.
#include <cstdlib>
#include <string>

#include "apps/common/ConfigFile.hpp"
#include "apps/common/ServerApp.hpp"
#include "tests/fuzz/FuzzInput.hpp"

namespace {

apps::Args fresh_args() {
  return apps::Args("fuzz", "config fuzzing",
                    apps::server_options("127.0.0.1:1",
                                         {{"upstream", "URL", "upstreams", "", true},
                                          {"response-timeout", "SECONDS", "a timeout", "60"}},
                                         apps::TlsDefault::on));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  apps::Args args = fresh_args();
  std::string error;
  if (!apps::apply_config(args, text, "fuzz.toml", error)) {
    if (!error.starts_with("fuzz.toml")) std::abort();
    for (const auto& option : args.options())
      if (!args.origin(option.name).empty()) std::abort();  // a refused file set nothing
  }
  return 0;
}

std::vector<fuzz::Seed> fuzz_seeds() {
  const auto seed = [](std::string name, std::string_view text) {
    return fuzz::Seed{std::move(name), std::vector<std::uint8_t>(text.begin(), text.end())};
  };
  return {
      seed("proxy",
           "listen = \"127.0.0.1:8443\"\nthreads = 2\nupstream = [\"http://a:1\", "
           "\"https://b:2\"]\nresponse-timeout = 0.5\nplain = false\n"),
      seed("certs",
           "cert = [\"a.pem\", \"b.pem\"]\nkey = [\"a.key\", \"b.key\"]\n"
           "ticket-key = \"new.key,old.key\"\n"),
      seed("unknown-key", "upstreams = \"http://a:1\"\n"),
      seed("wrong-type", "threads = true\n"),
      seed("table", "[server]\nlisten = \"x\"\n"),
      seed("syntax", "listen = \"unterminated\n"),
  };
}
