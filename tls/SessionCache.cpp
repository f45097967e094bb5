#include "tls/SessionCache.hpp"

#include <ctime>
#include <memory>

namespace tls {
namespace {

void free_key(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*index*/, long /*argl*/,
              void* /*argp*/) noexcept {
  std::unique_ptr<std::string>(static_cast<std::string*>(ptr));
}

bool expired(const SSL_SESSION* session) noexcept {
  return SSL_SESSION_get_time(session) + SSL_SESSION_get_timeout(session) <= std::time(nullptr);
}

}  // namespace

void SessionCache::store(const std::string& key, SSL_SESSION* session) {
  if (capacity_ == 0 || SSL_SESSION_is_resumable(session) == 0) return;
  const std::lock_guard lock(mutex_);
  auto found = entries_.find(key);
  if (found == entries_.end()) {
    if (entries_.size() >= capacity_) {
      entries_.erase(ages_.front());
      ages_.pop_front();
    }
    ages_.push_back(key);
    try {
      found = entries_.emplace(key, Entry{nullptr, std::prev(ages_.end())}).first;
    } catch (...) {
      ages_.pop_back();
      throw;
    }
  } else {
    ages_.splice(ages_.end(), ages_, found->second.age);
  }
  SSL_SESSION_up_ref(session);
  found->second.session.reset(session);
}

SessionPtr SessionCache::find(const std::string& key) {
  const std::lock_guard lock(mutex_);
  const auto found = entries_.find(key);
  if (found == entries_.end()) return nullptr;
  SSL_SESSION* session = found->second.session.get();
  // OpenSSL's client uses a TLS 1.3 session once only (RFC 8446 C.4), marking it so after use.
  if (expired(session) || SSL_SESSION_is_resumable(session) == 0) {
    ages_.erase(found->second.age);
    entries_.erase(found);
    return nullptr;
  }
  SSL_SESSION_up_ref(session);
  return SessionPtr(session);
}

std::size_t SessionCache::size() const {
  const std::lock_guard lock(mutex_);
  return entries_.size();
}

int SessionCache::key_index() noexcept {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_key);
  return index;
}

bool SessionCache::set_key(SSL* ssl, const std::string& key) {
  const int index = key_index();
  if (index < 0) return false;
  auto owned = std::make_unique<std::string>(key);
  // A second prepare_client() on the same SSL replaces the key; free_key only runs at SSL_free.
  std::unique_ptr<std::string> previous(static_cast<std::string*>(SSL_get_ex_data(ssl, index)));
  if (SSL_set_ex_data(ssl, index, owned.get()) == 0) {
    static_cast<void>(previous.release());
    return false;
  }
  static_cast<void>(owned.release());  // owned by the SSL now; free_key deletes it
  return true;
}

const std::string* SessionCache::key_of(const SSL* ssl) noexcept {
  const int index = key_index();
  if (index < 0) return nullptr;
  return static_cast<const std::string*>(SSL_get_ex_data(ssl, index));
}

}  // namespace tls
