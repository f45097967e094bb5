// The only file that touches OpenSSL's deprecated legacy key APIs (see Signer.hpp for why).
#define OPENSSL_SUPPRESS_DEPRECATED

#include "tls/Signer.hpp"

#include <openssl/async.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>

#include "reactor/detail/Platform.hpp"
#include "tls/Errors.hpp"

namespace tls {
namespace {

// ---- waiting for a Signer inside (or outside) an async job ------------------------------

// The key under which our wake-up is registered in each SSL's ASYNC_WAIT_CTX.
const int wait_fd_tag = 0;

void* as_custom(int fd) {
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(fd));
}
int from_custom(void* custom) {
  return static_cast<int>(reinterpret_cast<std::intptr_t>(custom));
}

// One wake-up descriptor per ASYNC_WAIT_CTX (per SSL; reactor/detail/Platform.hpp: an eventfd on
// Linux, a pipe elsewhere), registered once and closed by OpenSSL's cleanup when the SSL is
// freed. Its read end is what the transport polls; the write end rides in the entry's custom
// data. It is never cleared by a job: closing it under an active poll is what libuv forbids.
reactor::detail::WakeFd wake_of(ASYNC_WAIT_CTX* ctx) {
  OSSL_ASYNC_FD fd = -1;
  void* custom = nullptr;
  if (ASYNC_WAIT_CTX_get_fd(ctx, &wait_fd_tag, &fd, &custom) == 1) return {fd, from_custom(custom)};
  reactor::detail::WakeFd wake;
  if (!reactor::detail::open_wake(wake)) return {};
  const auto cleanup = [](ASYNC_WAIT_CTX*, const void*, OSSL_ASYNC_FD f, void* write_end) {
    reactor::detail::close_wake({f, from_custom(write_end)});
  };
  if (ASYNC_WAIT_CTX_set_wait_fd(ctx, &wait_fd_tag, wake.read_fd, as_custom(wake.write_fd),
                                 cleanup) != 1) {
    reactor::detail::close_wake(wake);
    return {};
  }
  return wake;
}

struct Pending {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  SignResult result;
  reactor::detail::WakeFd wake;  // read_fd -1: not in an async job
};

SignResult run(Signer& signer, SignRequest request) {
  auto pending = std::make_shared<Pending>();
  ASYNC_JOB* job = ASYNC_get_current_job();
  if (job != nullptr) pending->wake = wake_of(ASYNC_get_wait_ctx(job));
  try {
    signer.sign(std::move(request), [pending](SignResult result) {
      const std::lock_guard lock(pending->mutex);
      pending->result = std::move(result);
      pending->done = true;
      // Under the lock: once the job sees `done` the wake-up has been written, so no write
      // can land after the connection (and its fd) are gone.
      if (pending->wake.write_fd >= 0) reactor::detail::signal_wake(pending->wake.write_fd);
      pending->cv.notify_all();
    });
  } catch (...) {
    return std::nullopt;
  }
  if (pending->wake.read_fd >= 0) {
    // Inside the handshake's async job: give the loop back until the fd says we are done.
    // A wake-up without a result (a stale count) just pauses again.
    for (;;) {
      {
        const std::lock_guard lock(pending->mutex);
        if (pending->done) break;
      }
      if (ASYNC_pause_job() != 1) return std::nullopt;
    }
    reactor::detail::drain_wake(pending->wake.read_fd);
  } else {
    // Not in async mode (a renegotiation the peer started): wait on this thread.
    std::unique_lock lock(pending->mutex);
    pending->cv.wait(lock, [&] { return pending->done; });
  }
  const std::lock_guard lock(pending->mutex);
  return std::move(pending->result);
}

// ---- the key methods --------------------------------------------------------------------

struct Binding {
  std::shared_ptr<Signer> signer;
};

void free_binding(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  std::unique_ptr<Binding> reclaim(static_cast<Binding*>(ptr));
}

int ec_index() {
  static const int index = EC_KEY_get_ex_new_index(0, nullptr, nullptr, nullptr, free_binding);
  return index;
}

int rsa_index() {
  static const int index = RSA_get_ex_new_index(0, nullptr, nullptr, nullptr, free_binding);
  return index;
}

int ecdsa_sign(int, const unsigned char* digest, int digest_len, unsigned char* sig,
               unsigned int* sig_len, const BIGNUM*, const BIGNUM*, EC_KEY* key) {
  auto* binding = static_cast<Binding*>(EC_KEY_get_ex_data(key, ec_index()));
  if (binding == nullptr || digest_len < 0) return 0;
  SignRequest request;
  request.kind = SignRequest::Kind::ecdsa;
  request.input.assign(digest, digest + digest_len);
  const SignResult result = run(*binding->signer, std::move(request));
  if (!result || result->size() > static_cast<std::size_t>(ECDSA_size(key))) return 0;
  std::memcpy(sig, result->data(), result->size());
  *sig_len = static_cast<unsigned int>(result->size());
  return 1;
}

int rsa_private_encrypt(int len, const unsigned char* from, unsigned char* to, RSA* rsa,
                        int padding) {
  auto* binding = static_cast<Binding*>(RSA_get_ex_data(rsa, rsa_index()));
  if (binding == nullptr || len < 0) return -1;
  SignRequest request;
  request.kind = SignRequest::Kind::rsa;
  request.input.assign(from, from + len);
  request.rsa_padding = padding;
  const SignResult result = run(*binding->signer, std::move(request));
  if (!result || result->size() != static_cast<std::size_t>(RSA_size(rsa))) return -1;
  std::memcpy(to, result->data(), result->size());
  return static_cast<int>(result->size());
}

// The methods live as long as the process: keys made with them may outlive any owner we could
// give the methods.
const EC_KEY_METHOD* ec_method() {
  static EC_KEY_METHOD* const method = [] {
    EC_KEY_METHOD* m = EC_KEY_METHOD_new(EC_KEY_get_default_method());
    int (*sign)(int, const unsigned char*, int, unsigned char*, unsigned int*, const BIGNUM*,
                const BIGNUM*, EC_KEY*) = nullptr;
    int (*setup)(EC_KEY*, BN_CTX*, BIGNUM**, BIGNUM**) = nullptr;
    ECDSA_SIG* (*sign_sig)(const unsigned char*, int, const BIGNUM*, const BIGNUM*, EC_KEY*) =
        nullptr;
    EC_KEY_METHOD_get_sign(m, &sign, &setup, &sign_sig);
    EC_KEY_METHOD_set_sign(m, ecdsa_sign, setup, sign_sig);
    return m;
  }();
  return method;
}

const RSA_METHOD* rsa_method() {
  static RSA_METHOD* const method = [] {
    RSA_METHOD* m = RSA_meth_dup(RSA_get_default_method());
    RSA_meth_set1_name(m, "tlsreactor signer");
    RSA_meth_set_priv_enc(m, rsa_private_encrypt);
    return m;
  }();
  return method;
}

std::string queue_text(const char* what) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return what;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return std::string(what) + ": " + buf;
}

}  // namespace

PoolSigner::PoolSigner(EvpPkeyPtr key, std::shared_ptr<WorkerPool> workers)
    : key_(key.release(), EVP_PKEY_free), workers_(std::move(workers)) {}

namespace {

SignResult sign_with(EVP_PKEY* key, const SignRequest& request) {
  using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX_free>>;
  const CtxPtr ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1) return std::nullopt;
  if (request.kind == SignRequest::Kind::rsa &&
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), request.rsa_padding) != 1)
    return std::nullopt;
  std::size_t size = 0;
  if (EVP_PKEY_sign(ctx.get(), nullptr, &size, request.input.data(), request.input.size()) != 1)
    return std::nullopt;
  std::vector<unsigned char> out(size);
  if (EVP_PKEY_sign(ctx.get(), out.data(), &size, request.input.data(), request.input.size()) != 1)
    return std::nullopt;
  out.resize(size);
  ERR_clear_error();  // on a worker thread: leave its queue empty for the next task
  return out;
}

}  // namespace

void PoolSigner::sign(SignRequest request, std::function<void(SignResult)> done) {
  workers_->submit([key = key_, request = std::move(request), done = std::move(done)] {
    SignResult result = sign_with(key.get(), request);
    ERR_clear_error();
    done(std::move(result));
  });
}

SignResult PoolSigner::sign_now(const SignRequest& request) const {
  return sign_with(key_.get(), request);
}

reactor::Result<EvpPkeyPtr> make_signer_key(EVP_PKEY* public_key, std::shared_ptr<Signer> signer) {
  const auto refuse = [](std::string why) {
    return reactor::Error(Errc::config, {}, std::move(why));
  };
  EvpPkeyPtr key(EVP_PKEY_new());
  if (!key || !signer) return refuse("no signer");
  auto binding = std::make_unique<Binding>(Binding{std::move(signer)});
  if (EVP_PKEY_get_base_id(public_key) == EVP_PKEY_EC) {
    std::unique_ptr<EC_KEY, Free<EC_KEY_free>> ec(EC_KEY_new());
    const EC_KEY* source = EVP_PKEY_get0_EC_KEY(public_key);
    if (!ec || source == nullptr || EC_KEY_set_method(ec.get(), ec_method()) != 1 ||
        EC_KEY_set_group(ec.get(), EC_KEY_get0_group(source)) != 1 ||
        EC_KEY_set_public_key(ec.get(), EC_KEY_get0_public_key(source)) != 1 ||
        EC_KEY_set_ex_data(ec.get(), ec_index(), binding.get()) != 1)
      return refuse(queue_text("wrap EC key for the signer"));
    (void)binding.release();  // the EC_KEY's ex_data frees it with the key
    if (EVP_PKEY_assign_EC_KEY(key.get(), ec.get()) != 1)
      return refuse(queue_text("wrap EC key for the signer"));
    (void)ec.release();
    return EvpPkeyPtr(std::move(key));
  }
  if (EVP_PKEY_get_base_id(public_key) == EVP_PKEY_RSA) {
    std::unique_ptr<RSA, Free<RSA_free>> rsa(RSA_new());
    std::unique_ptr<BIGNUM, Free<BN_free>> n;
    std::unique_ptr<BIGNUM, Free<BN_free>> e;
    BIGNUM* raw_n = nullptr;
    BIGNUM* raw_e = nullptr;
    if (EVP_PKEY_get_bn_param(public_key, "n", &raw_n) == 1) n.reset(raw_n);
    if (EVP_PKEY_get_bn_param(public_key, "e", &raw_e) == 1) e.reset(raw_e);
    if (!rsa || !n || !e || RSA_set_method(rsa.get(), rsa_method()) != 1 ||
        RSA_set_ex_data(rsa.get(), rsa_index(), binding.get()) != 1 ||
        RSA_set0_key(rsa.get(), n.get(), e.get(), nullptr) != 1)
      return refuse(queue_text("wrap RSA key for the signer"));
    (void)n.release();  // the RSA owns them now
    (void)e.release();
    (void)binding.release();
    if (EVP_PKEY_assign_RSA(key.get(), rsa.get()) != 1)
      return refuse(queue_text("wrap RSA key for the signer"));
    (void)rsa.release();
    return EvpPkeyPtr(std::move(key));
  }
  return refuse("a signer handles EC and RSA keys only");
}

reactor::Error limit_async_jobs(std::size_t max_jobs) {
  // The pool can only be resized empty; with no bound, OpenSSL makes jobs on demand.
  ASYNC_cleanup_thread();
  if (max_jobs == 0 || ASYNC_init_thread(max_jobs, 0) == 1) return {};
  return reactor::Error(Errc::config, "bound the OpenSSL async job pool",
                        queue_text("ASYNC_init_thread"));
}

}  // namespace tls
