#include "server/thread_local_storage.hpp"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <string>

#include "symbols/elf_image.hpp"
#include "target/registers.hpp"

namespace gostub::server {

namespace {

// glibc's DB_STRUCT_FIELD record: size in bits, element count, byte offset.
struct FieldRecord {
  std::uint32_t bits, count, offset;
};

template <typename T>
std::optional<T> read_value(Program& program, std::uint64_t address) {
  T value{};
  std::array<char, sizeof(T)> bytes{};
  const auto got = program.read_memory(address, bytes);
  if (!got || *got != bytes.size()) return std::nullopt;
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

// Where glibc's record for link_map.l_tls_modid is in the program: the loaded module that
// exports it (libc.so.6 since glibc 2.34; libpthread before).
std::optional<std::uint64_t> modid_record_address(Program& program) {
  const auto regions = program.memory_regions();
  if (!regions) return std::nullopt;
  std::set<std::string> tried;
  for (const auto& region : *regions) {
    if (region.name.empty() || region.name.front() != '/' || !tried.insert(region.name).second)
      continue;
    if (region.name.find("libc") == std::string::npos &&
        region.name.find("libpthread") == std::string::npos)
      continue;
    auto image = symbols::ElfImage::open(region.name);
    if (!image) continue;
    const auto symbol = image->symbol("_thread_db_link_map_l_tls_modid");
    if (!symbol) continue;
    // The first mapping of a shared object is its first loadable segment, page-aligned.
    std::optional<std::uint64_t> first_load;
    for (const auto& segment : image->segments()) {
      if (segment.type == 1 /* PT_LOAD */) {
        first_load = segment.address & ~std::uint64_t{0xfff};
        break;
      }
    }
    if (!first_load) continue;
    return region.start - *first_load + *symbol;
  }
  return std::nullopt;
}

}  // namespace

target::Result<std::uint64_t> thread_local_address(Program& program, ClientThread thread,
                                                   std::uint64_t offset, std::uint64_t link_map) {
  // A static executable has no link_map (gdb sends 0): its own TLS is the only module, id 1.
  std::optional<std::uint64_t> modid = 1;
  if (link_map != 0) {
    const auto record_address = modid_record_address(program);
    if (!record_address) return target::fail(ENOENT, "no glibc with thread_db records loaded");
    const auto record = read_value<FieldRecord>(program, *record_address);
    if (!record || record->bits != 64) return target::fail(EIO, "unexpected l_tls_modid record");
    modid = read_value<std::uint64_t>(program, link_map + record->offset);
    if (!modid || *modid == 0) return target::fail(EIO, "no TLS module id in that link_map");
  }

  const auto registers = program.general_registers(thread);
  if (!registers) return std::unexpected(registers.error());
  const auto& fs = target::x86_64_registers()[target::regno::kFsBase];
  std::uint64_t fs_base = 0;
  if (registers->size() < fs.offset + sizeof fs_base) return target::fail(EIO, "no fs_base");
  std::memcpy(&fs_base, registers->data() + fs.offset, sizeof fs_base);
  // x86-64 TLS (variant II): fs points at the TCB, whose second word is the dtv; dtv_t is two
  // words, the first the block's address (-1 until the thread first touches the module).
  const auto dtv = read_value<std::uint64_t>(program, fs_base + 8);
  if (!dtv) return target::fail(EIO, "cannot read the thread's dtv");
  const auto block = read_value<std::uint64_t>(program, *dtv + 16 * *modid);
  if (!block) return target::fail(EIO, "cannot read the thread's dtv entry");
  if (*block == ~std::uint64_t{0}) {
    return target::fail(EAGAIN, "the thread has not allocated this module's TLS yet");
  }
  return *block + offset;
}

}  // namespace gostub::server
