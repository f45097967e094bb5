#include "tls/Loader.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>

#include "tls/Errors.hpp"

namespace tls {
namespace {

void close_file(std::FILE* f) noexcept {
  std::fclose(f);
}
using FilePtr = std::unique_ptr<std::FILE, Free<close_file>>;

// Without this, OpenSSL's default callback would prompt on the terminal for an encrypted key.
int no_password(char*, int, int, void*) noexcept {
  return -1;
}

std::string os_reason(int error) {
  return std::error_code(error, std::generic_category()).message();
}

std::string queue_reason(const char* fallback) {
  return last_reason(drain_error_queue(), fallback);
}

BioPtr memory_bio(const std::string& contents) {
  return BioPtr(BIO_new_mem_buf(contents.data(), static_cast<int>(contents.size())));
}

// True at the clean end of a PEM stream: the only complaint is that no further block starts.
bool at_pem_end() noexcept {
  const unsigned long error = ERR_peek_last_error();
  if (ERR_GET_LIB(error) != ERR_LIB_PEM || ERR_GET_REASON(error) != PEM_R_NO_START_LINE) {
    return false;
  }
  ERR_clear_error();
  return true;
}

}  // namespace

SecretString::~SecretString() {
  if (!value.empty()) OPENSSL_cleanse(value.data(), value.size());
}

bool read_file(const std::string& path, std::string& contents, std::string& reason,
               std::size_t limit) {
  contents.clear();
  errno = 0;
  const FilePtr file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    reason = os_reason(errno);
    return false;
  }
  char buffer[4096];
  while (true) {
    const std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
    contents.append(buffer, n);
    if (contents.size() > limit) {
      reason = "larger than " + std::to_string(limit) + " bytes";
      return false;
    }
    if (n < sizeof buffer) break;
  }
  const bool failed = std::ferror(file.get()) != 0;
  OPENSSL_cleanse(buffer, sizeof buffer);
  if (failed) {
    reason = os_reason(errno != 0 ? errno : EIO);
    return false;
  }
  return true;
}

bool load_certificate(const CertificateFiles& files, LoadedCertificate& out, std::string& message) {
  ERR_clear_error();
  std::string reason;
  std::string pem;
  if (!read_file(files.cert_file, pem, reason)) {
    message = "load certificate " + files.cert_file + ": " + reason;
    return false;
  }
  const BioPtr certs = memory_bio(pem);
  // The leaf keeps any trust settings (the _AUX form), as SSL_CTX_use_certificate_chain_file does.
  out.leaf.reset(PEM_read_bio_X509_AUX(certs.get(), nullptr, no_password, nullptr));
  if (!out.leaf) {
    message = "load certificate " + files.cert_file + ": " + queue_reason("no certificate");
    return false;
  }
  out.chain.reset(sk_X509_new_null());
  if (!out.chain) {
    message = "load certificate " + files.cert_file + ": " + queue_reason("out of memory");
    return false;
  }
  while (X509Ptr next{PEM_read_bio_X509(certs.get(), nullptr, no_password, nullptr)}) {
    if (sk_X509_push(out.chain.get(), next.get()) == 0) {
      message = "load certificate " + files.cert_file + ": " + queue_reason("out of memory");
      return false;
    }
    static_cast<void>(next.release());  // the stack owns it now
  }
  if (!at_pem_end()) {
    message = "load certificate " + files.cert_file + ": " + queue_reason("bad chain");
    return false;
  }

  if (files.key_file.empty()) return true;  // the key lives with a Signer
  SecretString key_pem;
  if (!read_file(files.key_file, key_pem.value, reason)) {
    message = "load private key " + files.key_file + ": " + reason;
    return false;
  }
  const BioPtr key = memory_bio(key_pem.value);
  out.key.reset(PEM_read_bio_PrivateKey(key.get(), nullptr, no_password, nullptr));
  if (!out.key) {
    message = "load private key " + files.key_file + ": " + queue_reason("no private key");
    return false;
  }
  if (X509_check_private_key(out.leaf.get(), out.key.get()) != 1) {
    message = "certificate " + files.cert_file + " and key " + files.key_file +
              " do not match: " + queue_reason("key values mismatch");
    return false;
  }
  return true;
}

bool load_certificates(const std::string& path, const char* what, std::vector<X509Ptr>& out,
                       std::string& message) {
  ERR_clear_error();
  std::string reason;
  std::string pem;
  if (!read_file(path, pem, reason)) {
    message = std::string("load ") + what + " " + path + ": " + reason;
    return false;
  }
  const BioPtr bio = memory_bio(pem);
  while (X509Ptr cert{PEM_read_bio_X509_AUX(bio.get(), nullptr, no_password, nullptr)}) {
    out.push_back(std::move(cert));
  }
  if (!at_pem_end()) {
    message = std::string("load ") + what + " " + path + ": " + queue_reason("bad certificate");
    return false;
  }
  if (out.empty()) {
    message = std::string("load ") + what + " " + path + ": no certificates in the file";
    return false;
  }
  return true;
}

}  // namespace tls
