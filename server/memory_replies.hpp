// Memory read replies (m as hex, x as binary), made in buffers that are reused for every
// packet: a 64 MiB dump allocates nothing per packet.
#pragma once

#include <string>
#include <string_view>

#include "server/program.hpp"

namespace gostub::server {

class MemoryReplies {
 public:
  enum class Encoding : std::uint8_t { kHex, kBinary };
  // Reads up to `length` bytes (at most what one reply carries) and encodes them after
  // `prefix`. The view is valid until the next call.
  target::Result<std::string_view> read(const Program& program, std::uint64_t address,
                                        std::uint64_t length, Encoding encoding,
                                        std::string_view prefix = {});

 private:
  std::string data_;
  std::string reply_;
};

}  // namespace gostub::server
