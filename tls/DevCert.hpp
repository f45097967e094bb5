// Development certificates made in code (EVP/X509 API): a throwaway CA and a leaf it signs, so
// demos and tests can verify for real against the dev CA instead of turning verification off.
#pragma once

#include <string>
#include <system_error>
#include <vector>

#include "reactor/Error.hpp"
#include "tls/Context.hpp"

namespace tls::dev {

enum class KeyType { ecdsa_p256, rsa_2048, rsa_4096 };

/// A freshly minted CA and leaf, PEM text in memory (tests and the demo mint theirs at start;
/// nothing long-lived is committed).
struct Pem {
  std::string ca_cert;  ///< the CA's certificate
  std::string cert;     ///< the leaf's certificate
  std::string key;      ///< the leaf's private key (PKCS#8)
};

/// `names` become the leaf's subjectAltNames: DNS names ("localhost", "*.test") and IP
/// literals ("127.0.0.1", "::1"); the first is also the subject CN. Valid from now - 1 h for
/// `days` days. Keys come from the OS RNG; nothing is reused between calls. Throws
/// std::invalid_argument for no names and std::runtime_error when OpenSSL fails (it only does out
/// of memory): a development aid whose failures are programming errors (docs/errors.md).
Pem generate(const std::vector<std::string>& names, KeyType type = KeyType::ecdsa_p256,
             int days = 30);

/// Where write_files() put a minted set, ready for a ServerConfig (leaf) and a client's ca_file.
struct Files {
  /// The CA certificate, for clients to trust (curl --cacert).
  std::string ca_file;
  CertificateFiles leaf;  ///< cert_file holds the leaf then the CA (a full chain)
};

/// Writes ca.pem, cert.pem and key.pem (mode 0600) into `dir` (created if missing). The Error
/// names the file or directory and the system's reason ("write /d/key.pem: Permission denied").
reactor::Result<Files> write(const Pem& pem, const std::string& dir);

}  // namespace tls::dev
