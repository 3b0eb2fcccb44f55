// Command parsing: any payload becomes a typed command or a parse error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/commands.hpp"

using namespace gostub::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  (void)parse_command(payload);
  // lldb's ";thread:TID;" suffix is taken off before parsing.
  if (const auto suffix = take_thread_suffix(payload)) (void)parse_command(payload);
  return 0;
}
