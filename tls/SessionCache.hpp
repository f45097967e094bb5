// Private to tls::Context (client side): the most recent resumable session per "host:port", so
// the next connection to the same server resumes instead of doing a full handshake.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tls/Ptr.hpp"

namespace tls {

// Thread-safety: every member may be called from any thread (one mutex; a lookup is one map
// find per connection, not per byte).
class SessionCache {
 public:
  explicit SessionCache(std::size_t capacity = 1024) : capacity_(capacity) {}

  // Keeps its own reference to `session` as the newest for `key`; the least recently stored
  // key is dropped when the cache is full.
  void store(const std::string& key, SSL_SESSION* session);
  // A new reference to the session for `key`, or null (also when it has expired or was a TLS 1.3
  // session already used once).
  SessionPtr find(const std::string& key);
  std::size_t size() const;

  // The SSL ex_data slot holding the connection's key (an owned std::string), set by
  // Context::prepare_client() and read by the new-session callback.
  static int key_index() noexcept;
  static bool set_key(SSL* ssl, const std::string& key);
  static const std::string* key_of(const SSL* ssl) noexcept;

 private:
  struct Entry {
    SessionPtr session;
    std::list<std::string>::iterator age;
  };

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> ages_;  // oldest first
};

}  // namespace tls
