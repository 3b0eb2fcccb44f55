// Build info: the module text (path, mod, dep, =>, build lines) as runtime/debug writes it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "symbols/build_info.hpp"

using namespace gostub::symbols;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  BuildInfo info;
  if (parse_module_info(std::string_view(reinterpret_cast<const char*>(data), size), info)) {
    (void)info.go_minor();
    (void)info.setting("CGO_ENABLED");
  }
  return 0;
}
