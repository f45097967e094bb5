// Private-key operations off the loop: the hook for keyless TLS, an HSM or a remote signer,
// and the built-in signer that runs them on worker threads.
//
// A server certificate can name a Signer instead of (or besides) a key file. The handshake's
// signature then goes to the Signer: inside an OpenSSL async job (SSL_MODE_ASYNC, which the
// Engine sets for the handshake) the job pauses, the connection parks on
// SSL_ERROR_WANT_ASYNC, and the loop goes on serving everyone else until the Signer answers.
//
// Why legacy key methods (EC_KEY_METHOD / RSA_METHOD) and not an ENGINE or a provider: OpenSSL
// 3.0 still routes a key whose method is not the default ("foreign") through that method for
// the TLS handshake's signatures, for ECDSA and for RSA (PKCS#1 and PSS alike end in one raw
// private operation), with two functions to supply. An ENGINE is deprecated in 3.0, and a
// provider means implementing a keymgmt and a signature provider (import/export, params,
// digest state) to forward one call. The legacy APIs are deprecated, not removed, and only
// Signer.cpp touches them.
#pragma once

#include <openssl/evp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reactor/Error.hpp"
#include "tls/Ptr.hpp"
#include "tls/WorkerPool.hpp"

namespace tls {

/// One private-key operation the handshake needs.
struct SignRequest {
  /// Which operation, and so what `input` holds and the answer must be.
  enum class Kind : unsigned char {
    ecdsa,  // `input` is the digest; the answer is a DER ECDSA-Sig-Value
    rsa,    // `input` is the block for a raw private operation with `rsa_padding`
            // (RSA_PKCS1_PADDING, or RSA_NO_PADDING for an already PSS-encoded block); the
            // answer is the modulus-sized result
  };
  Kind kind = Kind::ecdsa;           ///< see Kind
  std::vector<unsigned char> input;  ///< the digest or block, as Kind says; the signer's to keep
  int rsa_padding = 0;               ///< rsa only: RSA_PKCS1_PADDING or RSA_NO_PADDING
};

using SignResult = std::optional<std::vector<unsigned char>>;  // nullopt: the operation failed

/// Thread-safety: sign() is called on a loop thread; `done` may be called from any thread.
class Signer {
 public:
  virtual ~Signer() = default;
  /// Starts one operation and returns at once (it runs inside the handshake, on the loop).
  /// `done` must be called exactly once; a nullopt result fails the handshake.
  virtual void sign(SignRequest request, std::function<void(SignResult)> done) = 0;
};

/// The built-in Signer: the private key stays in this process, operations run on `workers`
/// (which it keeps alive; a Context's signers share one pool).
class PoolSigner final : public Signer {
 public:
  /// Takes ownership of `key`; `workers` must not be null.
  PoolSigner(EvpPkeyPtr key, std::shared_ptr<WorkerPool> workers);
  void sign(SignRequest request, std::function<void(SignResult)> done) override;
  /// Signs on the calling thread (what the pool's workers run).
  SignResult sign_now(const SignRequest& request) const;

 private:
  std::shared_ptr<EVP_PKEY> key_;
  std::shared_ptr<WorkerPool> workers_;
};

/// A key with the public half of `public_key` (the certificate's) whose private operations go
/// to `signer`. An Error (Errc::config) for key types other than EC and RSA.
reactor::Result<EvpPkeyPtr> make_signer_key(EVP_PKEY* public_key, std::shared_ptr<Signer> signer);

/// Bounds this thread's pool of OpenSSL async jobs (ASYNC_init_thread): at most `max_jobs`
/// handshakes can be parked on a Signer at once; more get SSL_ERROR_WANT_ASYNC_JOB and wait
/// for a free job. Call on the loop thread while none of its jobs is in use; 0 removes the bound
/// (OpenSSL's default).
reactor::Error limit_async_jobs(std::size_t max_jobs);

}  // namespace tls
