#pragma once
// SHA-512 (FIPS 180-4), for the few places the runtime needs a stable digest
// (cnitool derives its container ID from the netns path as upstream does).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cni {

std::array<uint8_t, 64> sha512(std::string_view data);
// Lower-case hex of the first `bytes` bytes of the digest (all 64 by default).
std::string sha512_hex(std::string_view data, size_t bytes = 64);

}  // namespace cni
