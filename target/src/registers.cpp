#include "target/registers.hpp"

#include <cpuid.h>
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
constexpr std::string_view kAvx = "org.gnu.gdb.i386.avx";
constexpr std::string_view kAvx512 = "org.gnu.gdb.i386.avx512";

constexpr std::size_t kBaseCount = 60;                  // core, sse, linux, segments
constexpr std::size_t kAvxCount = kBaseCount + 16;      // + ymm0h-ymm15h
constexpr std::size_t kRegisterCount = kAvxCount + 72;  // + xmm16-31, ymm16h-31h, k0-7, zmm0h-31h

struct Spec {
  std::string_view name;
  std::uint16_t bitsize;
  std::string_view type;
  std::string_view group;
  std::string_view feature;
  int dwarf;
};

// gdb's amd64-linux numbering (gdb/features/i386/64bit-*.xml), in the order gdbserver sends
// the features (core, sse, linux, segments, avx, avx512); DWARF numbers from the System V
// x86-64 psABI.
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
    {"ymm0h", 128, "uint128", "", kAvx, -1},
    {"ymm1h", 128, "uint128", "", kAvx, -1},
    {"ymm2h", 128, "uint128", "", kAvx, -1},
    {"ymm3h", 128, "uint128", "", kAvx, -1},
    {"ymm4h", 128, "uint128", "", kAvx, -1},
    {"ymm5h", 128, "uint128", "", kAvx, -1},
    {"ymm6h", 128, "uint128", "", kAvx, -1},
    {"ymm7h", 128, "uint128", "", kAvx, -1},
    {"ymm8h", 128, "uint128", "", kAvx, -1},
    {"ymm9h", 128, "uint128", "", kAvx, -1},
    {"ymm10h", 128, "uint128", "", kAvx, -1},
    {"ymm11h", 128, "uint128", "", kAvx, -1},
    {"ymm12h", 128, "uint128", "", kAvx, -1},
    {"ymm13h", 128, "uint128", "", kAvx, -1},
    {"ymm14h", 128, "uint128", "", kAvx, -1},
    {"ymm15h", 128, "uint128", "", kAvx, -1},
    {"xmm16", 128, "vec128", "", kAvx512, 67},
    {"xmm17", 128, "vec128", "", kAvx512, 68},
    {"xmm18", 128, "vec128", "", kAvx512, 69},
    {"xmm19", 128, "vec128", "", kAvx512, 70},
    {"xmm20", 128, "vec128", "", kAvx512, 71},
    {"xmm21", 128, "vec128", "", kAvx512, 72},
    {"xmm22", 128, "vec128", "", kAvx512, 73},
    {"xmm23", 128, "vec128", "", kAvx512, 74},
    {"xmm24", 128, "vec128", "", kAvx512, 75},
    {"xmm25", 128, "vec128", "", kAvx512, 76},
    {"xmm26", 128, "vec128", "", kAvx512, 77},
    {"xmm27", 128, "vec128", "", kAvx512, 78},
    {"xmm28", 128, "vec128", "", kAvx512, 79},
    {"xmm29", 128, "vec128", "", kAvx512, 80},
    {"xmm30", 128, "vec128", "", kAvx512, 81},
    {"xmm31", 128, "vec128", "", kAvx512, 82},
    {"ymm16h", 128, "uint128", "", kAvx512, -1},
    {"ymm17h", 128, "uint128", "", kAvx512, -1},
    {"ymm18h", 128, "uint128", "", kAvx512, -1},
    {"ymm19h", 128, "uint128", "", kAvx512, -1},
    {"ymm20h", 128, "uint128", "", kAvx512, -1},
    {"ymm21h", 128, "uint128", "", kAvx512, -1},
    {"ymm22h", 128, "uint128", "", kAvx512, -1},
    {"ymm23h", 128, "uint128", "", kAvx512, -1},
    {"ymm24h", 128, "uint128", "", kAvx512, -1},
    {"ymm25h", 128, "uint128", "", kAvx512, -1},
    {"ymm26h", 128, "uint128", "", kAvx512, -1},
    {"ymm27h", 128, "uint128", "", kAvx512, -1},
    {"ymm28h", 128, "uint128", "", kAvx512, -1},
    {"ymm29h", 128, "uint128", "", kAvx512, -1},
    {"ymm30h", 128, "uint128", "", kAvx512, -1},
    {"ymm31h", 128, "uint128", "", kAvx512, -1},
    {"k0", 64, "uint64", "", kAvx512, 118},
    {"k1", 64, "uint64", "", kAvx512, 119},
    {"k2", 64, "uint64", "", kAvx512, 120},
    {"k3", 64, "uint64", "", kAvx512, 121},
    {"k4", 64, "uint64", "", kAvx512, 122},
    {"k5", 64, "uint64", "", kAvx512, 123},
    {"k6", 64, "uint64", "", kAvx512, 124},
    {"k7", 64, "uint64", "", kAvx512, 125},
    {"zmm0h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm1h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm2h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm3h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm4h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm5h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm6h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm7h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm8h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm9h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm10h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm11h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm12h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm13h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm14h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm15h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm16h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm17h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm18h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm19h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm20h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm21h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm22h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm23h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm24h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm25h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm26h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm27h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm28h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm29h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm30h", 256, "v2ui128", "", kAvx512, -1},
    {"zmm31h", 256, "v2ui128", "", kAvx512, -1},
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

constexpr std::size_t file_size(std::size_t count) {
  return kRegisters[count - 1].offset + kRegisters[count - 1].bitsize / 8;
}

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
  kGsBase,
  kYmm0h,
  kXmm16 = kYmm0h + 16,
  kYmm16h = kXmm16 + 16,
  kK0 = kYmm16h + 16,
  kZmm0h = kK0 + 8,
};
static_assert(kZmm0h + 32 == kRegisterCount);

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

}  // namespace

std::span<const RegisterInfo> x86_64_registers(const XsaveLayout& layout) {
  if (layout.has_avx512()) return kRegisters;
  if (layout.avx != 0) return std::span(kRegisters).first(kAvxCount);
  return std::span(kRegisters).first(kBaseCount);
}

std::span<const RegisterInfo> x86_64_registers() {
  return x86_64_registers(host_xsave_layout());
}

std::size_t register_file_size(const XsaveLayout& layout) {
  return file_size(x86_64_registers(layout).size());
}

std::size_t register_file_size() {
  return register_file_size(host_xsave_layout());
}

const XsaveLayout& host_xsave_layout() {
  static const XsaveLayout layout = [] {
    XsaveLayout out;
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0 || (ecx & bit_OSXSAVE) == 0) return out;
    std::uint32_t xcr0_low = 0, xcr0_high = 0;
    asm volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    const std::uint64_t xcr0 = std::uint64_t{xcr0_high} << 32 | xcr0_low;
    out.xsave = true;
    __cpuid_count(0xd, 0, eax, ebx, ecx, edx);
    out.size = std::max<std::size_t>(ebx, out.size);
    // Each component's offset in the standard (uncompacted) layout the kernel's regset uses.
    const auto offset = [&](unsigned component) -> std::size_t {
      if ((xcr0 & (std::uint64_t{1} << component)) == 0) return 0;
      __cpuid_count(0xd, component, eax, ebx, ecx, edx);
      return ebx;
    };
    out.avx = offset(2);
    out.opmask = offset(5);
    out.zmm_hi256 = offset(6);
    out.hi16_zmm = offset(7);
    return out;
  }();
  return layout;
}

std::string to_register_file(const user_regs_struct& general, std::string_view xsave,
                             const XsaveLayout& layout) {
  user_fpregs_struct fp{};
  std::memcpy(&fp, xsave.data(), std::min(sizeof fp, xsave.size()));
  auto file = to_register_file(general, fp);
  file.resize(register_file_size(layout));
  const auto copy = [&](std::size_t index, std::size_t from, std::size_t bytes) {
    if (from + bytes <= xsave.size())
      std::memcpy(file.data() + kRegisters[index].offset, xsave.data() + from, bytes);
  };
  if (layout.avx != 0) {
    for (std::size_t i = 0; i < 16; ++i) copy(kYmm0h + i, layout.avx + 16 * i, 16);
  }
  if (layout.has_avx512()) {
    for (std::size_t i = 0; i < 16; ++i) {
      const std::size_t zmm = layout.hi16_zmm + 64 * i;  // zmm16+i, all 512 bits
      copy(kXmm16 + i, zmm, 16);
      copy(kYmm16h + i, zmm + 16, 16);
      copy(kZmm0h + 16 + i, zmm + 32, 32);
      copy(kZmm0h + i, layout.zmm_hi256 + 32 * i, 32);
    }
    for (std::size_t i = 0; i < 8; ++i) copy(kK0 + i, layout.opmask + 8 * i, 8);
  }
  return file;
}

void from_register_file(std::string_view file, user_regs_struct& general, std::string& xsave,
                        const XsaveLayout& layout) {
  user_fpregs_struct fp{};
  if (xsave.size() < layout.size) xsave.resize(layout.size, '\0');
  std::memcpy(&fp, xsave.data(), sizeof fp);
  from_register_file(file, general, fp);
  std::memcpy(xsave.data(), &fp, sizeof fp);
  std::uint64_t features = 0x3;  // x87 and SSE state are given
  const auto copy = [&](std::size_t index, std::size_t to, std::size_t bytes) {
    const auto& info = kRegisters[index];
    if (to + bytes <= xsave.size() && info.offset + bytes <= file.size())
      std::memcpy(xsave.data() + to, file.data() + info.offset, bytes);
  };
  if (layout.avx != 0) {
    for (std::size_t i = 0; i < 16; ++i) copy(kYmm0h + i, layout.avx + 16 * i, 16);
    features |= 0x4;
  }
  if (layout.has_avx512() && file.size() >= file_size(kRegisterCount)) {
    for (std::size_t i = 0; i < 16; ++i) {
      const std::size_t zmm = layout.hi16_zmm + 64 * i;
      copy(kXmm16 + i, zmm, 16);
      copy(kYmm16h + i, zmm + 16, 16);
      copy(kZmm0h + 16 + i, zmm + 32, 32);
      copy(kZmm0h + i, layout.zmm_hi256 + 32 * i, 32);
    }
    for (std::size_t i = 0; i < 8; ++i) copy(kK0 + i, layout.opmask + 8 * i, 8);
    features |= 0xe0;
  }
  // XSAVE header: XSTATE_BV says which components hold values (a clear bit means "initial
  // state", and the kernel would ignore what was written there).
  constexpr std::size_t kXstateBv = 512;
  std::uint64_t bv = 0;
  std::memcpy(&bv, xsave.data() + kXstateBv, sizeof bv);
  bv |= features;
  std::memcpy(xsave.data() + kXstateBv, &bv, sizeof bv);
}

std::string to_register_file(const user_regs_struct& general, const user_fpregs_struct& fp) {
  std::string file(register_file_size(), '\0');
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

bool is_general_register(std::uint32_t regno) {
  return std::any_of(kGeneralFields.begin(), kGeneralFields.end(),
                     [regno](const GeneralField& field) { return field.index == regno; });
}

std::uint64_t register_value(std::string_view file, std::uint32_t regno) {
  const auto& info = x86_64_registers()[regno];
  std::uint64_t value = 0;
  std::memcpy(&value, file.data() + info.offset, std::min<std::size_t>(info.bitsize / 8, 8));
  return value;
}

}  // namespace gostub::target
