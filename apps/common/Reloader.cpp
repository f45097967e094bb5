#include "apps/common/Reloader.hpp"

#include <cstdint>
#include <utility>

#include "apps/common/ConfigFile.hpp"
#include "apps/common/TlsOptions.hpp"
#include "reactor/Log.hpp"
#include "reactor/Server.hpp"
#include "tls/TlsTransport.hpp"

namespace apps {
namespace {

// "a.pem", or "a.pem and 2 more".
std::string first_and_more(const std::vector<std::string>& items) {
  const std::size_t more = items.size() - 1;
  return items.front() + (more > 0 ? " and " + std::to_string(more) + " more" : "");
}

std::string describe(const Generation& built, const Args& args) {
  if (!built.context) return "new connections use the re-read configuration";
  const auto certs = args.values("cert");
  std::string text = "new connections use certificate " +
                     (certs.empty() ? "(development)" : first_and_more(certs));
  if (const auto keys = ticket_key_files(args); !keys.empty())
    text += ", ticket keys " + first_and_more(keys);
  return text;
}

// A Context error names the file it could not use; when the config file named that file, the
// error also says where ("hello.toml:4:8: load certificate new.pem: no start line").
std::string located(const Args& args, std::string error) {
  for (const char* name : {"cert", "key", "ticket-key", "client-ca", "keylog"}) {
    const std::string where = args.origin(name);
    if (where.empty()) continue;
    for (const auto& value : args.values(name))
      for (const auto& file : Args::split(value))
        if (!file.empty() && error.find(file) != std::string::npos) return where + ": " + error;
  }
  return error;
}

}  // namespace

Reloader::Reloader(Args started, FactoryBuilder build, std::vector<std::string> alpn,
                   decltype(ServeExtras::outer) outer, decltype(ServeExtras::on_built) on_built)
    : started_(std::move(started)),
      build_(std::move(build)),
      alpn_(std::move(alpn)),
      outer_(std::move(outer)),
      on_built_(std::move(on_built)) {
  started_.set_quiet(true);
}

std::optional<Generation> Reloader::build(const Args& args, std::string& error) {
  auto fail = [&](std::string why) -> std::optional<Generation> {
    error = why.empty() ? args.last_error() : std::move(why);
    if (error.empty()) error = "the options were refused";
    return std::nullopt;
  };
  std::string why;
  reactor::HandlerFactory factory = build_(args, why);
  if (!factory) return fail(std::move(why));
  // The outer layer (when the app has one) goes around whatever this build ends with.
  const auto finish = [&](Generation built) -> std::optional<Generation> {
    if (!outer_) return built;
    built.factory = outer_(args, std::move(built.factory), why);
    if (!built.factory) return fail(std::move(why));
    return built;
  };
  if (!serves_tls(started_)) return finish(Generation{nullptr, std::move(factory)});

  auto certificates = certificate_pairs(args, why);
  if (!certificates) return fail(std::move(why));
  if (certificates->empty()) {
    if (!dev_certificate_)
      dev_certificate_ = development_certificate(args.get("dev-cert-dir"), why);
    if (!dev_certificate_) return fail(std::move(why));
    certificates->push_back(*dev_certificate_);
  }
  if (!workers_ && args.flag("offload-private-key")) workers_ = std::make_shared<tls::WorkerPool>();
  auto context = server_context_from(args, std::move(*certificates), alpn_, workers_, why);
  if (!context) return fail(located(args, std::move(why)));
  // --max-buffered also sizes the TCP layer's cap, which only a restart changes.
  const auto max_buffered = started_.count("max-buffered", 0, UINT32_MAX);
  const auto transport = max_buffered ? transport_options_from(args, *max_buffered) : std::nullopt;
  if (!transport) return fail({});
  return finish(Generation{context, tls::server_factory(context, std::move(factory), *transport)});
}

bool Reloader::reload(reactor::Server& server) {
  Args next = started_;
  std::string error;
  if (!load_config(next, error)) {
    reactor::log::error("reload failed, the old configuration stays: " + error);
    return false;
  }
  for (const auto& option : started_.options()) {
    const std::string& name = option.name;
    if (option.restart_only && next.get(name) != started_.get(name))
      reactor::log::warn("reload: --" + name + " changed to '" + next.get(name) +
                         "' but takes a restart; '" + started_.get(name) + "' stays");
  }
  auto built = build(next, error);
  if (!built) {
    reactor::log::error("reload failed, the old configuration stays: " + error);
    return false;
  }
  server.replace_factory(std::move(built->factory));
  taken(next);
  reactor::log::info("reload: " + describe(*built, next));
  return true;
}

}  // namespace apps
