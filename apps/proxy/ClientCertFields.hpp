// RFC 9440's Client-Cert and Client-Cert-Chain request fields: the certificate a client showed
// the proxy, told to the upstream as Structured Field byte sequences (RFC 8941 3.3.5).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace apps::proxy {

// ":BASE64(der):", the Client-Cert value; "" for an empty `der`.
std::string client_cert_field(std::string_view der);

// The Client-Cert-Chain value: the byte sequences of `chain`, comma-separated, in order;
// "" for an empty chain (the field is then not sent).
std::string client_cert_chain_field(const std::vector<std::string>& chain);

}  // namespace apps::proxy
