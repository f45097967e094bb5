#include "tls/DevCert.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "tls/Errors.hpp"
#include "tls/Ptr.hpp"

namespace tls::dev {
namespace {

void free_general_names(GENERAL_NAMES* names) noexcept {
  GENERAL_NAMES_free(names);
}
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Free<free_general_names>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Free<GENERAL_NAME_free>>;
void free_octets(ASN1_OCTET_STRING* s) noexcept {
  ASN1_OCTET_STRING_free(s);
}
using OctetsPtr = std::unique_ptr<ASN1_OCTET_STRING, Free<free_octets>>;
void free_ia5(ASN1_IA5STRING* s) noexcept {
  ASN1_IA5STRING_free(s);
}
using Ia5Ptr = std::unique_ptr<ASN1_IA5STRING, Free<free_ia5>>;

// Only OpenSSL failing (out of memory, a broken RNG) lands here: there is nothing to recover.
[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("dev certificate: " + what + ": " +
                           last_reason(drain_error_queue(), "failed"));
}

void check(int ok, const char* what) {
  if (ok != 1) fail(what);
}

EVP_PKEY* rsa_key(std::size_t bits) {
  return EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits);
}

EvpPkeyPtr make_key(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::ecdsa_p256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::rsa_2048:
      key = rsa_key(2048);
      break;
    case KeyType::rsa_4096:
      key = rsa_key(4096);
      break;
  }
  if (key == nullptr) fail("generate key");
  return EvpPkeyPtr(key);
}

void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  const X509ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!extension) fail(std::string("make extension ") + OBJ_nid2sn(nid) + "=" + value);
  check(X509_add_ext(cert, extension.get(), -1), "add extension");
}

// Built as GENERAL_NAMEs rather than a "DNS:a,IP:b" config string, so no name can inject
// another entry through a comma.
void add_subject_alt_names(X509* cert, const std::vector<std::string>& names) {
  const GeneralNamesPtr sans(sk_GENERAL_NAME_new_null());
  if (!sans) fail("make subjectAltName");
  for (const std::string& name : names) {
    GeneralNamePtr entry(GENERAL_NAME_new());
    if (!entry) fail("make subjectAltName");
    if (OctetsPtr ip{a2i_IPADDRESS(name.c_str())}) {
      GENERAL_NAME_set0_value(entry.get(), GEN_IPADD, ip.release());
    } else {
      ERR_clear_error();
      Ia5Ptr dns(ASN1_IA5STRING_new());
      if (!dns) fail("make subjectAltName");
      check(ASN1_STRING_set(dns.get(), name.data(), static_cast<int>(name.size())),
            "make subjectAltName");
      GENERAL_NAME_set0_value(entry.get(), GEN_DNS, dns.release());
    }
    if (sk_GENERAL_NAME_push(sans.get(), entry.get()) == 0) fail("make subjectAltName");
    static_cast<void>(entry.release());  // the stack owns it now
  }
  check(X509_add1_ext_i2d(cert, NID_subject_alt_name, sans.get(), 0, X509V3_ADD_DEFAULT),
        "add subjectAltName");
}

void set_name(X509_NAME* name, const char* field, const std::string& value) {
  check(
      X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0),
      "set subject name");
}

// A fresh certificate: random positive 128-bit serial, valid from an hour ago (clock skew
// between the machines that make and check it) for `days` days.
X509Ptr new_certificate(EVP_PKEY* key, int days) {
  X509Ptr cert(X509_new());
  if (!cert) fail("make certificate");
  check(X509_set_version(cert.get(), X509_VERSION_3), "set version");
  std::array<unsigned char, 16> serial{};
  check(RAND_bytes(serial.data(), static_cast<int>(serial.size())), "make serial");
  serial[0] = static_cast<unsigned char>((serial[0] & 0x7f) | 0x40);  // positive, never zero
  const BignumPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    fail("set serial");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr) == nullptr) {
    fail("set validity");
  }
  check(X509_set_pubkey(cert.get(), key), "set public key");
  return cert;
}

void sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) fail("sign certificate");
}

std::string pem_of(X509* cert) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail("write certificate");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<std::size_t>(size)};
}

std::string pem_of(EVP_PKEY* key) {
  // BIO_s_secmem wipes its buffer when freed.
  const BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("write private key");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<std::size_t>(size)};
}

// Writes through a temporary file and a rename, so a reader never sees half a file.
reactor::Error write_file(const std::string& path, const std::string& contents, mode_t mode) {
  const std::string temporary = path + ".tmp";
  const auto failed = [&](const char* what) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return reactor::Error(std::error_code(error, std::generic_category()),
                          std::string(what) + " " + path);
  };
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return failed("write");
  // open() keeps an existing file's mode; the key must not stay readable by others.
  if (::fchmod(fd, mode) != 0) {
    const int error = errno;
    ::close(fd);
    errno = error;
    return failed("write");
  }
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      errno = error;
      return failed("write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return failed("write");
  if (::rename(temporary.c_str(), path.c_str()) != 0) return failed("rename into");
  return {};
}

}  // namespace

Pem generate(const std::vector<std::string>& names, KeyType type, int days) {
  if (names.empty()) throw std::invalid_argument("dev certificate: no names");
  ERR_clear_error();

  const EvpPkeyPtr ca_key = make_key(type);
  const X509Ptr ca = new_certificate(ca_key.get(), days);
  X509_NAME* ca_name = X509_get_subject_name(ca.get());
  set_name(ca_name, "O", "tlsreactor development");
  set_name(ca_name, "CN", "tlsreactor development CA");
  check(X509_set_issuer_name(ca.get(), ca_name), "set issuer");
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca.get(), ca.get(), nullptr, nullptr, 0);
  add_extension(ca.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(ca.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(ca.get(), &ctx, NID_subject_key_identifier, "hash");
  sign(ca.get(), ca_key.get());

  const EvpPkeyPtr key = make_key(type);
  const X509Ptr leaf = new_certificate(key.get(), days);
  X509_NAME* leaf_name = X509_get_subject_name(leaf.get());
  set_name(leaf_name, "O", "tlsreactor development");
  // A commonName holds at most 64 characters; the subjectAltName is what clients check anyway.
  if (names.front().size() <= 64) set_name(leaf_name, "CN", names.front());
  check(X509_set_issuer_name(leaf.get(), ca_name), "set issuer");
  X509V3_set_ctx(&ctx, ca.get(), leaf.get(), nullptr, nullptr, 0);
  add_extension(leaf.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
  // RSA key exchange is not among our ciphers, but other servers may reuse the dev cert.
  add_extension(leaf.get(), &ctx, NID_key_usage,
                type == KeyType::ecdsa_p256 ? "critical,digitalSignature"
                                            : "critical,digitalSignature,keyEncipherment");
  add_extension(leaf.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
  add_subject_alt_names(leaf.get(), names);
  add_extension(leaf.get(), &ctx, NID_subject_key_identifier, "hash");
  add_extension(leaf.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  sign(leaf.get(), ca_key.get());

  Pem pem;
  pem.ca_cert = pem_of(ca.get());
  pem.cert = pem_of(leaf.get());
  pem.key = pem_of(key.get());
  return pem;
}

reactor::Result<Files> write(const Pem& pem, const std::string& dir) {
  std::error_code fs_error;
  if (std::filesystem::create_directories(dir, fs_error)) {
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, fs_error);
  }
  if (fs_error) return reactor::Error(fs_error, "create directory " + dir);
  Files files;
  const std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  files.ca_file = base + "ca.pem";
  files.leaf.cert_file = base + "cert.pem";
  files.leaf.key_file = base + "key.pem";
  if (auto e = write_file(files.ca_file, pem.ca_cert, 0644)) return e;
  if (auto e = write_file(files.leaf.cert_file, pem.cert + pem.ca_cert, 0644)) return e;
  if (auto e = write_file(files.leaf.key_file, pem.key, 0600)) return e;
  return files;
}

}  // namespace tls::dev
