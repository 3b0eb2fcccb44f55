// The x86-64 Linux register set as gdb numbers it (features core, sse, linux, segments:
// regnums 0..59; then avx: ymm0h-ymm15h, and avx512: xmm16-31, ymm16h-31h, k0-7, zmm0h-31h,
// where this machine has them), and the "register file": every register's raw little-endian
// bytes concatenated in that order, which is exactly the layout of gdb's g packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

struct user_regs_struct;
struct user_fpregs_struct;

namespace gostub::target {

struct RegisterInfo {
  std::string_view name;
  std::uint16_t bitsize;
  std::string_view type;     // gdb target-description type
  std::string_view group;    // "" when gdb's default applies
  std::string_view feature;  // gdb feature name
  int dwarf;                 // DWARF register number, -1 when none
  std::size_t offset;        // byte offset in the register file
};

// Where the XSAVE area (PTRACE_GETREGSET NT_X86_XSTATE, in the standard uncompacted layout)
// keeps the AVX and AVX-512 components; an offset of 0: the kernel does not enable it.
struct XsaveLayout {
  bool xsave = false;         // the kernel uses XSAVE at all (else only the fxsave area)
  std::size_t size = 576;     // bytes: legacy region (512) and header (64) at least
  std::size_t avx = 0;        // ymm0-15 upper halves, 16 x 16 bytes
  std::size_t opmask = 0;     // k0-7, 8 x 8 bytes
  std::size_t zmm_hi256 = 0;  // zmm0-15 upper halves, 16 x 32 bytes
  std::size_t hi16_zmm = 0;   // zmm16-31, 16 x 64 bytes
  bool has_avx512() const { return avx != 0 && opmask != 0 && zmm_hi256 != 0 && hi16_zmm != 0; }
};
// This machine's (CPUID leaf 0xd and XCR0), read once.
const XsaveLayout& host_xsave_layout();

// The registers this machine has, or those a given layout holds.
std::span<const RegisterInfo> x86_64_registers();
std::span<const RegisterInfo> x86_64_registers(const XsaveLayout& layout);

std::size_t register_file_size();
std::size_t register_file_size(const XsaveLayout& layout);

namespace regno {
inline constexpr std::uint32_t kRax = 0;  // Go's first integer argument (ABIInternal)
inline constexpr std::uint32_t kRbx = 1;  // its second
inline constexpr std::uint32_t kRbp = 6;
inline constexpr std::uint32_t kRsp = 7;
inline constexpr std::uint32_t kR14 = 14;  // the current g, inside Go code
inline constexpr std::uint32_t kRip = 16;
inline constexpr std::uint32_t kFsBase = 58;  // Go's g is at fs_base - 8
}  // namespace regno

// Whether `regno` is one of the registers PTRACE_GETREGS reads (rax … gs, fs_base, gs_base).
bool is_general_register(std::uint32_t regno);

// Register `regno` (at most 64 bits wide) from a register file, zero-extended.
std::uint64_t register_value(std::string_view file, std::uint32_t regno);

// Conversions between the kernel's structures and the register file. With only the fxsave
// area, the AVX registers read as zeros.
std::string to_register_file(const user_regs_struct& general, const user_fpregs_struct& fp);
void from_register_file(std::string_view file, user_regs_struct& general, user_fpregs_struct& fp);
// With the whole XSAVE area. Writing starts from the thread's current area (so that what gdb
// does not describe keeps its value) and marks the components written as present.
std::string to_register_file(const user_regs_struct& general, std::string_view xsave,
                             const XsaveLayout& layout);
void from_register_file(std::string_view file, user_regs_struct& general, std::string& xsave,
                        const XsaveLayout& layout);

}  // namespace gostub::target
