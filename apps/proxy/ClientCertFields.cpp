#include "apps/proxy/ClientCertFields.hpp"

#include <span>

#include "apps/http/Base64.hpp"

namespace apps::proxy {

std::string client_cert_field(std::string_view der) {
  if (der.empty()) return {};
  return ':' + http::base64_encode(std::as_bytes(std::span(der.data(), der.size()))) + ':';
}

std::string client_cert_chain_field(const std::vector<std::string>& chain) {
  std::string out;
  for (const std::string& der : chain) {
    if (der.empty()) continue;
    if (!out.empty()) out.append(", ");
    out.append(client_cert_field(der));
  }
  return out;
}

}  // namespace apps::proxy
