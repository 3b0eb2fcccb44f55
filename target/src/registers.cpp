#include "target/registers.hpp"

#include <sys/user.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace gostub::target {

namespace {

constexpr std::string_view kCore = "org.gnu.gdb.i386.core";
constexpr std::string_view kSse = "org.gnu.gdb.i386.sse";
constexpr std::string_view kLinux = "org.gnu.gdb.i386.linux";
constexpr std::string_view kSegments = "org.gnu.gdb.i386.segments";

constexpr std::size_t kRegisterCount = 60;

struct Spec {
  std::string_view name;
  std::uint16_t bitsize;
  std::string_view type;
  std::string_view group;
  std::string_view feature;
  int dwarf;
};

// gdb's amd64-linux numbering (gdb/features/i386/64bit-*.xml); DWARF numbers from the
// System V x86-64 psABI.
constexpr std::array<Spec, kRegisterCount> kSpecs = {{
    {"rax", 64, "int64", "", kCore, 0},
    {"rbx", 64, "int64", "", kCore, 3},
    {"rcx", 64, "int64", "", kCore, 2},
    {"rdx", 64, "int64", "", kCore, 1},
    {"rsi", 64, "int64", "", kCore, 4},
    {"rdi", 64, "int64", "", kCore, 5},
    {"rbp", 64, "data_ptr", "", kCore, 6},
    {"rsp", 64, "data_ptr", "", kCore, 7},
    {"r8", 64, "int64", "", kCore, 8},
    {"r9", 64, "int64", "", kCore, 9},
    {"r10", 64, "int64", "", kCore, 10},
    {"r11", 64, "int64", "", kCore, 11},
    {"r12", 64, "int64", "", kCore, 12},
    {"r13", 64, "int64", "", kCore, 13},
    {"r14", 64, "int64", "", kCore, 14},
    {"r15", 64, "int64", "", kCore, 15},
    {"rip", 64, "code_ptr", "", kCore, 16},
    {"eflags", 32, "i386_eflags", "", kCore, 49},
    {"cs", 32, "int32", "", kCore, 51},
    {"ss", 32, "int32", "", kCore, 52},
    {"ds", 32, "int32", "", kCore, 53},
    {"es", 32, "int32", "", kCore, 50},
    {"fs", 32, "int32", "", kCore, 54},
    {"gs", 32, "int32", "", kCore, 55},
    {"st0", 80, "i387_ext", "", kCore, 33},
    {"st1", 80, "i387_ext", "", kCore, 34},
    {"st2", 80, "i387_ext", "", kCore, 35},
    {"st3", 80, "i387_ext", "", kCore, 36},
    {"st4", 80, "i387_ext", "", kCore, 37},
    {"st5", 80, "i387_ext", "", kCore, 38},
    {"st6", 80, "i387_ext", "", kCore, 39},
    {"st7", 80, "i387_ext", "", kCore, 40},
    {"fctrl", 32, "int", "float", kCore, 65},
    {"fstat", 32, "int", "float", kCore, 66},
    {"ftag", 32, "int", "float", kCore, -1},
    {"fiseg", 32, "int", "float", kCore, -1},
    {"fioff", 32, "int", "float", kCore, -1},
    {"foseg", 32, "int", "float", kCore, -1},
    {"fooff", 32, "int", "float", kCore, -1},
    {"fop", 32, "int", "float", kCore, -1},
    {"xmm0", 128, "vec128", "", kSse, 17},
    {"xmm1", 128, "vec128", "", kSse, 18},
    {"xmm2", 128, "vec128", "", kSse, 19},
    {"xmm3", 128, "vec128", "", kSse, 20},
    {"xmm4", 128, "vec128", "", kSse, 21},
    {"xmm5", 128, "vec128", "", kSse, 22},
    {"xmm6", 128, "vec128", "", kSse, 23},
    {"xmm7", 128, "vec128", "", kSse, 24},
    {"xmm8", 128, "vec128", "", kSse, 25},
    {"xmm9", 128, "vec128", "", kSse, 26},
    {"xmm10", 128, "vec128", "", kSse, 27},
    {"xmm11", 128, "vec128", "", kSse, 28},
    {"xmm12", 128, "vec128", "", kSse, 29},
    {"xmm13", 128, "vec128", "", kSse, 30},
    {"xmm14", 128, "vec128", "", kSse, 31},
    {"xmm15", 128, "vec128", "", kSse, 32},
    {"mxcsr", 32, "i386_mxcsr", "vector", kSse, 64},
    {"orig_rax", 64, "int", "", kLinux, -1},
    {"fs_base", 64, "int", "", kSegments, 58},
    {"gs_base", 64, "int", "", kSegments, 59},
}};

constexpr auto kRegisters = [] {
  std::array<RegisterInfo, kRegisterCount> out{};
  std::size_t offset = 0;
  for (std::size_t i = 0; i < kRegisterCount; ++i) {
    const auto& s = kSpecs[i];
    out[i] = RegisterInfo{s.name, s.bitsize, s.type, s.group, s.feature, s.dwarf, offset};
    offset += s.bitsize / 8;
  }
  return out;
}();

constexpr std::size_t kFileSize = kRegisters.back().offset + kRegisters.back().bitsize / 8;

// Register indices used below.
enum : std::size_t {
  kRax,
  kRbx,
  kRcx,
  kRdx,
  kRsi,
  kRdi,
  kRbp,
  kRsp,
  kR8,
  kR9,
  kR10,
  kR11,
  kR12,
  kR13,
  kR14,
  kR15,
  kRip,
  kEflags,
  kCs,
  kSs,
  kDs,
  kEs,
  kFs,
  kGs,
  kSt0,
  kFctrl = kSt0 + 8,
  kFstat,
  kFtag,
  kFiseg,
  kFioff,
  kFoseg,
  kFooff,
  kFop,
  kXmm0,
  kMxcsr = kXmm0 + 16,
  kOrigRax,
  kFsBase,
  kGsBase
};

template <typename T>
void put(std::string& file, std::size_t index, T value) {
  const auto& info = kRegisters[index];
  std::memcpy(file.data() + info.offset, &value, info.bitsize / 8);
}

template <typename T>
T get(std::string_view file, std::size_t index) {
  const auto& info = kRegisters[index];
  T value{};
  std::memcpy(&value, file.data() + info.offset, info.bitsize / 8);
  return value;
}

struct GeneralField {
  std::size_t index;
  unsigned long long user_regs_struct::*member;
};
constexpr std::array<GeneralField, 27> kGeneralFields = {{
    {kRax, &user_regs_struct::rax},
    {kRbx, &user_regs_struct::rbx},
    {kRcx, &user_regs_struct::rcx},
    {kRdx, &user_regs_struct::rdx},
    {kRsi, &user_regs_struct::rsi},
    {kRdi, &user_regs_struct::rdi},
    {kRbp, &user_regs_struct::rbp},
    {kRsp, &user_regs_struct::rsp},
    {kR8, &user_regs_struct::r8},
    {kR9, &user_regs_struct::r9},
    {kR10, &user_regs_struct::r10},
    {kR11, &user_regs_struct::r11},
    {kR12, &user_regs_struct::r12},
    {kR13, &user_regs_struct::r13},
    {kR14, &user_regs_struct::r14},
    {kR15, &user_regs_struct::r15},
    {kRip, &user_regs_struct::rip},
    {kEflags, &user_regs_struct::eflags},
    {kCs, &user_regs_struct::cs},
    {kSs, &user_regs_struct::ss},
    {kDs, &user_regs_struct::ds},
    {kEs, &user_regs_struct::es},
    {kFs, &user_regs_struct::fs},
    {kGs, &user_regs_struct::gs},
    {kOrigRax, &user_regs_struct::orig_rax},
    {kFsBase, &user_regs_struct::fs_base},
    {kGsBase, &user_regs_struct::gs_base},
}};

constexpr unsigned kTagValid = 0, kTagZero = 1, kTagSpecial = 2, kTagEmpty = 3;

// fxsave keeps an abridged tag (one "not empty" bit per physical register); gdb shows the full
// i387 tag word, which must be recomputed from each register's contents.
std::uint32_t full_tag_word(const user_fpregs_struct& fp) {
  const unsigned top = (fp.swd >> 11) & 7;
  std::uint32_t tags = 0;
  for (unsigned physical = 0; physical < 8; ++physical) {
    unsigned tag = kTagEmpty;
    if (fp.ftw & (1u << physical)) {
      const auto* raw =
          reinterpret_cast<const std::uint8_t*>(fp.st_space) + 16 * ((physical - top) & 7);
      const unsigned exponent = (raw[9] & 0x7fu) << 8 | raw[8];
      std::uint64_t mantissa = 0;
      std::memcpy(&mantissa, raw, sizeof mantissa);
      if (exponent == 0x7fff) {
        tag = kTagSpecial;
      } else if (exponent == 0) {
        tag = mantissa == 0 ? kTagZero : kTagSpecial;
      } else {
        tag = (mantissa >> 63) ? kTagValid : kTagSpecial;
      }
    }
    tags |= tag << (2 * physical);
  }
  return tags;
}

std::uint16_t abridged_tag_word(std::uint32_t full) {
  std::uint16_t abridged = 0;
  for (unsigned physical = 0; physical < 8; ++physical) {
    if (((full >> (2 * physical)) & 3) != kTagEmpty)
      abridged |= static_cast<std::uint16_t>(1u << physical);
  }
  return abridged;
}

constexpr auto kSubRegisters = [] {
  constexpr std::array<std::string_view, 16> k32 = {"eax",  "ebx",  "ecx",  "edx", "esi",  "edi",
                                                    "ebp",  "esp",  "r8d",  "r9d", "r10d", "r11d",
                                                    "r12d", "r13d", "r14d", "r15d"};
  constexpr std::array<std::string_view, 16> k16 = {"ax",   "bx",   "cx",   "dx",  "si",   "di",
                                                    "bp",   "sp",   "r8w",  "r9w", "r10w", "r11w",
                                                    "r12w", "r13w", "r14w", "r15w"};
  constexpr std::array<std::string_view, 16> k8 = {"al",   "bl",   "cl",   "dl",  "sil",  "dil",
                                                   "bpl",  "spl",  "r8l",  "r9l", "r10l", "r11l",
                                                   "r12l", "r13l", "r14l", "r15l"};
  constexpr std::array<std::string_view, 4> kHigh = {"ah", "bh", "ch", "dh"};
  std::array<SubRegister, 16 * 3 + 4> out{};
  std::size_t n = 0;
  for (std::uint32_t i = 0; i < 16; ++i) out[n++] = {k32[i], i, 32, 0};
  for (std::uint32_t i = 0; i < 16; ++i) out[n++] = {k16[i], i, 16, 0};
  for (std::uint32_t i = 0; i < 16; ++i) out[n++] = {k8[i], i, 8, 0};
  for (std::uint32_t i = 0; i < 4; ++i) out[n++] = {kHigh[i], i, 8, 1};
  return out;
}();

}  // namespace

std::span<const SubRegister> x86_64_subregisters() {
  return kSubRegisters;
}

std::span<const RegisterInfo> x86_64_registers() {
  return kRegisters;
}
std::size_t register_file_size() {
  return kFileSize;
}

std::string to_register_file(const user_regs_struct& general, const user_fpregs_struct& fp) {
  std::string file(kFileSize, '\0');
  for (const auto& field : kGeneralFields) {
    const auto value = general.*field.member;
    if (kRegisters[field.index].bitsize == 32) {
      put(file, field.index, static_cast<std::uint32_t>(value));
    } else {
      put(file, field.index, static_cast<std::uint64_t>(value));
    }
  }
  const auto* st = reinterpret_cast<const char*>(fp.st_space);
  for (std::size_t i = 0; i < 8; ++i) {
    std::memcpy(file.data() + kRegisters[kSt0 + i].offset, st + 16 * i, 10);
  }
  put(file, kFctrl, static_cast<std::uint32_t>(fp.cwd));
  put(file, kFstat, static_cast<std::uint32_t>(fp.swd));
  put(file, kFtag, full_tag_word(fp));
  put(file, kFiseg, static_cast<std::uint32_t>((fp.rip >> 32) & 0xffff));
  put(file, kFioff, static_cast<std::uint32_t>(fp.rip));
  put(file, kFoseg, static_cast<std::uint32_t>((fp.rdp >> 32) & 0xffff));
  put(file, kFooff, static_cast<std::uint32_t>(fp.rdp));
  put(file, kFop, static_cast<std::uint32_t>(fp.fop & 0x7ff));
  std::memcpy(file.data() + kRegisters[kXmm0].offset, fp.xmm_space, 16 * 16);
  put(file, kMxcsr, static_cast<std::uint32_t>(fp.mxcsr));
  return file;
}

void from_register_file(std::string_view file, user_regs_struct& general, user_fpregs_struct& fp) {
  for (const auto& field : kGeneralFields) {
    if (kRegisters[field.index].bitsize == 32) {
      general.*field.member = get<std::uint32_t>(file, field.index);
    } else {
      general.*field.member = get<std::uint64_t>(file, field.index);
    }
  }
  auto* st = reinterpret_cast<char*>(fp.st_space);
  for (std::size_t i = 0; i < 8; ++i) {
    std::memcpy(st + 16 * i, file.data() + kRegisters[kSt0 + i].offset, 10);
  }
  fp.cwd = static_cast<std::uint16_t>(get<std::uint32_t>(file, kFctrl));
  fp.swd = static_cast<std::uint16_t>(get<std::uint32_t>(file, kFstat));
  fp.ftw = abridged_tag_word(get<std::uint32_t>(file, kFtag));
  fp.rip = static_cast<std::uint64_t>(get<std::uint32_t>(file, kFiseg) & 0xffff) << 32 |
           get<std::uint32_t>(file, kFioff);
  fp.rdp = static_cast<std::uint64_t>(get<std::uint32_t>(file, kFoseg) & 0xffff) << 32 |
           get<std::uint32_t>(file, kFooff);
  fp.fop = static_cast<std::uint16_t>(get<std::uint32_t>(file, kFop) & 0x7ff);
  std::memcpy(fp.xmm_space, file.data() + kRegisters[kXmm0].offset, 16 * 16);
  fp.mxcsr = get<std::uint32_t>(file, kMxcsr);
}

std::uint64_t register_value(std::string_view file, std::uint32_t regno) {
  const auto& info = x86_64_registers()[regno];
  std::uint64_t value = 0;
  std::memcpy(&value, file.data() + info.offset, std::min<std::size_t>(info.bitsize / 8, 8));
  return value;
}

}  // namespace gostub::target
