#include "tls/SniMatch.hpp"

#include <openssl/x509v3.h>

#include <memory>

#include "tls/Ptr.hpp"

namespace tls {
namespace {

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

void free_general_names(GENERAL_NAMES* names) noexcept {
  GENERAL_NAMES_free(names);
}
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Free<free_general_names>>;
void free_utf8(unsigned char* p) noexcept {
  OPENSSL_free(p);
}
using Utf8Ptr = std::unique_ptr<unsigned char, Free<free_utf8>>;

}  // namespace

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool sni_matches(std::string_view pattern, std::string_view host) noexcept {
  if (pattern.empty() || host.empty()) return false;
  if (!pattern.starts_with("*.")) return equal_ignoring_case(pattern, host);
  const std::string_view suffix = pattern.substr(1);  // ".example.com"
  if (suffix.size() < 2 || host.size() <= suffix.size()) return false;
  const std::string_view label = host.substr(0, host.size() - suffix.size());
  return label.find('.') == std::string_view::npos &&
         equal_ignoring_case(host.substr(label.size()), suffix);
}

int choose_certificate(const std::vector<std::vector<std::string>>& names,
                       std::string_view host) noexcept {
  for (const bool wildcard : {false, true}) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      for (const std::string& pattern : names[i]) {
        if (pattern.starts_with("*.") == wildcard && sni_matches(pattern, host)) {
          return static_cast<int>(i);
        }
      }
    }
  }
  return -1;
}

std::vector<std::string> certificate_names(X509* cert) {
  std::vector<std::string> names;
  const GeneralNamesPtr sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
    if (name->type != GEN_DNS) continue;
    const ASN1_IA5STRING* dns = name->d.dNSName;
    names.push_back(ascii_lower({reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                 static_cast<std::size_t>(ASN1_STRING_length(dns))}));
  }
  if (!names.empty()) return names;
  const X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) {
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    unsigned char* raw = nullptr;
    const int length = ASN1_STRING_to_UTF8(&raw, cn);
    const Utf8Ptr utf8(raw);
    if (length < 0) continue;
    names.push_back(
        ascii_lower({reinterpret_cast<const char*>(utf8.get()), static_cast<std::size_t>(length)}));
  }
  return names;
}

}  // namespace tls
