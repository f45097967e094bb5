#include "tls/CertificateInfo.hpp"

#include <openssl/asn1.h>
#include <openssl/err.h>

#include <ctime>
#include <vector>

#include "tls/Loader.hpp"
#include "tls/Ptr.hpp"

namespace tls {
namespace {

std::string rfc2253(const X509_NAME* name) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

}  // namespace

reactor::Result<CertificateInfo> read_certificate_info(const std::string& path) {
  std::vector<X509Ptr> certificates;
  if (std::string why; !load_certificates(path, "certificate", certificates, why))
    return reactor::Error(Errc::config, {}, std::move(why));
  const X509* leaf = certificates.front().get();
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) != 1) {
    ERR_clear_error();
    return reactor::Error(Errc::config, {}, "load certificate " + path + ": unreadable notAfter");
  }
  CertificateInfo info;
  info.subject = rfc2253(X509_get_subject_name(leaf));
  info.not_after_unix = static_cast<std::int64_t>(timegm(&tm));
  ERR_clear_error();
  return info;
}

}  // namespace tls
