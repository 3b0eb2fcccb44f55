// Go's unsigned varint (encoding/binary.Uvarint: LEB128), as pclntab, build info and type
// names use it. Private to symbols/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace gostub::symbols {

// Reads one varint at `at` and moves `at` past it; nullopt when it runs off the end of `bytes`
// or past 64 bits.
inline std::optional<std::uint64_t> read_uvarint(std::span<const std::uint8_t> bytes,
                                                 std::size_t& at) {
  std::uint64_t value = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (at >= bytes.size()) return std::nullopt;
    const auto byte = bytes[at++];
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  return std::nullopt;
}

}  // namespace gostub::symbols
