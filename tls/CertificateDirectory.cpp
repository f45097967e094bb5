#include "tls/CertificateDirectory.hpp"

#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

#include "tls/Signer.hpp"

namespace tls {
namespace {

// A DNS name (already lower-cased by the ClientHello parser) that is safe as one path component:
// no '/', no "..", no leading '.', nothing but letters, digits, '-' and '.'.
bool is_plain_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 253 || name.front() == '.' ||
      name.find("..") != std::string_view::npos)
    return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::shared_ptr<CertificateDirectory> CertificateDirectory::create(std::string directory,
                                                                   ServerConfig policy) {
  // make_shared cannot reach the private constructor; a local class can.
  struct Shared : CertificateDirectory {
    Shared(std::string d, ServerConfig p) : CertificateDirectory(std::move(d), std::move(p)) {}
  };
  return std::make_shared<Shared>(std::move(directory), std::move(policy));
}

CertificateDirectory::CertificateDirectory(std::string directory, ServerConfig policy)
    : directory_(std::move(directory)),
      policy_(std::move(policy)),
      workers_(policy_.workers ? policy_.workers : std::make_shared<WorkerPool>()) {
  // The per-name Contexts serve the name they were built for; asking again would loop.
  policy_.on_client_hello = nullptr;
  policy_.strict_sni = false;
  // Their offloaded signatures share the directory's threads rather than start a pool each.
  policy_.workers = workers_;
}

std::function<void(const ClientHello&, HelloDecision)> CertificateDirectory::hook() {
  return [self = shared_from_this()](const ClientHello& hello, HelloDecision decision) {
    self->decide(hello, std::move(decision));
  };
}

void CertificateDirectory::decide(const ClientHello& hello, HelloDecision decision) {
  if (hello.server_name.empty() || hello.has_certificate) {
    decision.proceed();
    return;
  }
  if (!is_plain_name(hello.server_name)) {
    decision.reject(SSL_AD_UNRECOGNIZED_NAME);
    return;
  }
  std::shared_ptr<const Context> known;
  bool first = false;
  {
    const std::lock_guard lock(mutex_);
    if (const auto it = contexts_.find(hello.server_name); it != contexts_.end()) {
      known = it->second;
    } else {
      auto& waiting = waiting_[hello.server_name];
      first = waiting.empty();
      waiting.push_back(std::move(decision));
    }
  }
  if (known) {
    decision.use(std::move(known));
    return;
  }
  // Inside the hook (on OpenSSL's stack): only start the load, never wait for it.
  if (first)
    workers_->submit([self = shared_from_this(), name = hello.server_name] { self->load(name); });
}

// On a worker thread.
void CertificateDirectory::load(const std::string& name) {
  std::shared_ptr<const Context> context;
  int alert = SSL_AD_UNRECOGNIZED_NAME;
  try {
    const std::filesystem::path base = std::filesystem::path(directory_) / name;
    std::error_code ignored;
    if (std::filesystem::is_regular_file(base / "cert.pem", ignored)) {
      ServerConfig config = policy_;
      config.certificates = {{(base / "cert.pem").string(), (base / "key.pem").string()}};
      // Files that are there but do not load are our fault, not the client's.
      if (auto made = Context::server(config))
        context = *made;
      else
        alert = SSL_AD_INTERNAL_ERROR;
    }
  } catch (...) {
    alert = SSL_AD_INTERNAL_ERROR;
  }
  std::vector<HelloDecision> waiting;
  {
    const std::lock_guard lock(mutex_);
    ++loads_;
    if (context) contexts_[name] = context;
    if (const auto it = waiting_.find(name); it != waiting_.end()) {
      waiting = std::move(it->second);
      waiting_.erase(it);
    }
  }
  // Not cached when missing: the files may appear later, and the next ClientHello looks again.
  for (const HelloDecision& d : waiting) {
    if (context)
      d.use(context);
    else
      d.reject(alert);
  }
}

std::size_t CertificateDirectory::loaded() const {
  const std::lock_guard lock(mutex_);
  return contexts_.size();
}

std::size_t CertificateDirectory::loads() const {
  const std::lock_guard lock(mutex_);
  return loads_;
}

}  // namespace tls
