#pragma once
// Standard base64 (RFC 4648 section 4, padded): the gateway's encoding of
// every key and value.

#include <optional>
#include <string>
#include <string_view>

namespace etcd {

// The padded base64 of `bytes`.
std::string base64_encode(std::string_view bytes);

// The bytes `text` encodes, or nullopt if it is not padded standard base64
// (wrong length, a character outside the alphabet, misplaced '=').
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace etcd
