// Private to tls/: reads certificates, keys and other files for a Context, with errors that name
// the file and the real reason. OpenSSL's own file loaders report a missing file as "system lib",
// so files are read here (the OS says "No such file or directory") and parsed from memory.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tls/Context.hpp"
#include "tls/Ptr.hpp"

namespace tls {

// A string that wipes itself, for file contents that hold key material.
struct SecretString {
  std::string value;
  SecretString() = default;
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  ~SecretString();
};

// Reads all of `path` (at most `limit` bytes). On failure `reason` is why, e.g.
// "No such file or directory" or "larger than 16777216 bytes".
bool read_file(const std::string& path, std::string& contents, std::string& reason,
               std::size_t limit = std::size_t{16} << 20);

struct LoadedCertificate {
  X509Ptr leaf;
  X509StackPtr chain;  // the certificates after the leaf, in file order
  EvpPkeyPtr key;
};

// Loads a PEM chain (leaf first) and a PEM private key, and checks that they belong together.
// Messages: "load certificate /c: no start line", "load private key /k: No such file or
// directory", "certificate /c and key /k do not match: key values mismatch".
bool load_certificate(const CertificateFiles& files, LoadedCertificate& out, std::string& message);

// Every certificate of a PEM bundle; an empty bundle is an error. what: "CA file".
bool load_certificates(const std::string& path, const char* what, std::vector<X509Ptr>& out,
                       std::string& message);

}  // namespace tls
