#include "server/memory_replies.hpp"

#include <algorithm>

#include "protocol/framing.hpp"
#include "protocol/hex.hpp"
#include "server/client_profile.hpp"

namespace gostub::server {

target::Result<std::string_view> MemoryReplies::read(const Program& program, std::uint64_t address,
                                                     std::uint64_t length, Encoding encoding,
                                                     std::string_view prefix) {
  data_.resize(std::min<std::uint64_t>(length, kMaxReplyData));
  auto got = program.read_memory(address, data_);
  if (!got) return std::unexpected(got.error());
  reply_.assign(prefix);
  const auto data = std::string_view(data_).substr(0, *got);
  if (encoding == Encoding::kHex) {
    protocol::append_hex(reply_, data);
  } else {
    protocol::append_escaped(reply_, data);
  }
  return std::string_view(reply_);
}

}  // namespace gostub::server
