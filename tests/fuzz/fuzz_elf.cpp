// A whole file as a Go executable: ELF (libelf over an mmap), pclntab located by section,
// symbol or header search, build info, moduledata; then what `gostub info` and symbolize do.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "symbols/go_binary.hpp"

using namespace gostub::symbols;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = ::memfd_create("fuzz-elf", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    return 0;
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (auto binary = GoBinary::open(path)) {
    (void)binary->describe();
    const auto& lines = binary->lines();
    const auto count = std::min<std::uint32_t>(lines.function_count(), 16);
    for (std::uint32_t i = 0; i < count; ++i) {
      if (const auto function = lines.function(i)) (void)binary->frames(function->entry);
    }
  } else if (auto image = ElfImage::open(path)) {
    (void)read_build_info(*image);
    (void)image->go_build_id();
    (void)image->gnu_build_id();
    (void)image->symbol("runtime.pclntab");
  }
  return 0;
}
