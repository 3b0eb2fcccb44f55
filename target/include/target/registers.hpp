// The x86-64 Linux register set as gdb numbers it (features core, sse, linux, segments;
// regnums 0..59), and the "register file": every register's raw little-endian bytes
// concatenated in that order, which is exactly the layout of gdb's g packet.
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

std::span<const RegisterInfo> x86_64_registers();

// Parts of the general registers that lldb shows as registers of their own (eax, ax, al, ah,
// r8d, …): `bitsize` bits at `byte_offset` within register `parent`.
struct SubRegister {
  std::string_view name;
  std::uint32_t parent;
  std::uint16_t bitsize;
  std::uint16_t byte_offset;
};
std::span<const SubRegister> x86_64_subregisters();
std::size_t register_file_size();

namespace regno {
inline constexpr std::uint32_t kRax = 0;  // Go's first integer argument (ABIInternal)
inline constexpr std::uint32_t kRbx = 1;  // its second
inline constexpr std::uint32_t kRbp = 6;
inline constexpr std::uint32_t kRsp = 7;
inline constexpr std::uint32_t kR14 = 14;  // the current g, inside Go code
inline constexpr std::uint32_t kRip = 16;
inline constexpr std::uint32_t kFsBase = 58;  // Go's g is at fs_base - 8
}  // namespace regno

// Register `regno` (at most 64 bits wide) from a register file, zero-extended.
std::uint64_t register_value(std::string_view file, std::uint32_t regno);

// Conversions between the kernel's structures and the register file.
std::string to_register_file(const user_regs_struct& general, const user_fpregs_struct& fp);
void from_register_file(std::string_view file, user_regs_struct& general, user_fpregs_struct& fp);

}  // namespace gostub::target
