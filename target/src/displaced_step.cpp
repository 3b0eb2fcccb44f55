#include "target/displaced_step.hpp"

#include <capstone/capstone.h>
#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>

namespace gostub::target {

namespace {

// jmp qword [rip+0] followed by its target: reaches anywhere, clobbers nothing.
constexpr std::size_t kAbsoluteJumpSize = 14;

void append_absolute_jump(std::string& code, std::uint64_t target) {
  code += std::string("\xff\x25\x00\x00\x00\x00", 6);
  code.append(reinterpret_cast<const char*>(&target), 8);
}

void append_u64(std::string& code, std::uint64_t value) {
  code.append(reinterpret_cast<const char*>(&value), 8);
}

void append_i32(std::string& code, std::int32_t value) {
  code.append(reinterpret_cast<const char*>(&value), 4);
}

struct Decoded {
  cs_insn* insn = nullptr;
  csh handle = 0;
  ~Decoded() {
    if (insn != nullptr) cs_free(insn, 1);
    if (handle != 0) cs_close(&handle);
  }
};

bool in_group(const cs_insn& insn, std::uint8_t group) {
  const auto& detail = *insn.detail;
  for (std::uint8_t i = 0; i < detail.groups_count; ++i) {
    if (detail.groups[i] == group) return true;
  }
  return false;
}

bool uses_register(const cs_x86& x86, x86_reg reg) {
  for (std::uint8_t i = 0; i < x86.op_count; ++i) {
    const auto& op = x86.operands[i];
    if (op.type == X86_OP_REG && op.reg == reg) return true;
    if (op.type == X86_OP_MEM && (op.mem.base == reg || op.mem.index == reg)) return true;
  }
  return false;
}

// Copies the instruction as it will sit at `at`, its rip-relative displacement (if any)
// re-based so that it names the same address as at `from`.
Result<std::string> rebase(const cs_insn& insn, std::uint64_t from, std::uint64_t at) {
  std::string bytes(reinterpret_cast<const char*>(insn.bytes), insn.size);
  const auto& x86 = insn.detail->x86;
  bool rip_relative = false;
  for (std::uint8_t i = 0; i < x86.op_count; ++i) {
    if (x86.operands[i].type == X86_OP_MEM && x86.operands[i].mem.base == X86_REG_RIP) {
      rip_relative = true;
    }
  }
  if (!rip_relative) return bytes;
  const std::size_t modrm = x86.encoding.modrm_offset;
  // mod 00, r/m 101: a disp32 straight after the ModRM byte, relative to the instruction's end.
  if (modrm == 0 || modrm + 5 > insn.size ||
      (static_cast<std::uint8_t>(bytes[modrm]) & 0xc7) != 0x05) {
    return fail(EINVAL, "unexpected rip-relative encoding");
  }
  std::int32_t displacement = 0;
  std::memcpy(&displacement, bytes.data() + modrm + 1, 4);
  const std::uint64_t operand = from + insn.size + static_cast<std::int64_t>(displacement);
  const auto moved = static_cast<std::int64_t>(operand - (at + insn.size));
  if (moved < std::numeric_limits<std::int32_t>::min() ||
      moved > std::numeric_limits<std::int32_t>::max()) {
    return fail(ERANGE, fmt::format("rip-relative operand {:#x} is out of reach of the scratch "
                                    "area",
                                    operand));
  }
  const auto narrowed = static_cast<std::int32_t>(moved);
  std::memcpy(bytes.data() + modrm + 1, &narrowed, 4);
  return bytes;
}

}  // namespace

Result<std::string> relocate_instruction(std::span<const std::uint8_t> instruction,
                                         std::uint64_t from, std::uint64_t slot) {
  Decoded decoded;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &decoded.handle) != CS_ERR_OK) {
    return fail(EIO, "cannot open the disassembler");
  }
  cs_option(decoded.handle, CS_OPT_DETAIL, CS_OPT_ON);
  if (cs_disasm(decoded.handle, instruction.data(), instruction.size(), from, 1, &decoded.insn) !=
      1) {
    return fail(EINVAL, fmt::format("cannot decode the instruction at {:#x}", from));
  }
  const cs_insn& insn = *decoded.insn;
  const auto& x86 = insn.detail->x86;
  const std::uint64_t next = from + insn.size;
  const auto refuse = [&](std::string_view why) {
    return fail(EINVAL, fmt::format("{} {} at {:#x} {}", insn.mnemonic, insn.op_str, from, why));
  };

  switch (insn.id) {
    case X86_INS_SYSCALL:
    case X86_INS_SYSENTER:
      // A restarted system call rewinds the pc to the instruction: it must be where it was.
      return refuse("is a system call");
    case X86_INS_UD2:
    case X86_INS_INT1:
    case X86_INS_INTO:
    case X86_INS_HLT:
      return refuse("is a trap");
    case X86_INS_LJMP:
    case X86_INS_LCALL:
    case X86_INS_RETF:
    case X86_INS_RETFQ:
    case X86_INS_XBEGIN:
      return refuse("transfers control in a way not relocated");
    default:
      break;
  }
  if (in_group(insn, X86_GRP_INT) || in_group(insn, X86_GRP_IRET)) return refuse("is a trap");
  if (x86.prefix[2] == 0x66 && (in_group(insn, X86_GRP_JUMP) || in_group(insn, X86_GRP_CALL))) {
    return refuse("has a 16-bit operand size");
  }

  std::string code;
  if (in_group(insn, X86_GRP_BRANCH_RELATIVE) ||
      (x86.op_count == 1 && x86.operands[0].type == X86_OP_IMM &&
       (in_group(insn, X86_GRP_JUMP) || in_group(insn, X86_GRP_CALL)))) {
    const auto target = static_cast<std::uint64_t>(x86.operands[0].imm);
    if (insn.id == X86_INS_JMP) {
      append_absolute_jump(code, target);
      return code;
    }
    if (insn.id == X86_INS_CALL) {
      // push qword [rip+14] (the original return address, kept after the jump), jump.
      code += std::string("\xff\x35", 2);
      append_i32(code, static_cast<std::int32_t>(kAbsoluteJumpSize));
      append_absolute_jump(code, target);
      append_u64(code, next);
      return code;
    }
    // A conditional branch (jcc, jrcxz, loop): the same condition with an 8-bit displacement
    // over the not-taken jump, to the taken jump.
    const std::uint8_t* end = insn.bytes + insn.size;
    if (insn.size >= 6 && end[-6] == 0x0f && (end[-5] & 0xf0) == 0x80) {
      code += static_cast<char>(0x70 | (end[-5] & 0x0f));  // jcc rel32 -> jcc rel8
    } else if ((end[-2] >= 0x70 && end[-2] <= 0x7f) || (end[-2] >= 0xe0 && end[-2] <= 0xe3)) {
      code.append(reinterpret_cast<const char*>(insn.bytes), insn.size - 1);  // rel8 forms
    } else {
      return refuse("is a relative branch of an unknown form");
    }
    code += static_cast<char>(kAbsoluteJumpSize);
    append_absolute_jump(code, next);
    append_absolute_jump(code, target);
    return code;
  }

  if (insn.id == X86_INS_CALL) {
    // An indirect call: push the original return address, then jump where the call would have
    // gone (the same ModRM with /4, jmp, for /2, call). An operand on the stack pointer would
    // be read after the push.
    const std::size_t modrm = x86.encoding.modrm_offset;
    if (insn.bytes[0] == 0xe8 || modrm == 0 || ((insn.bytes[modrm] >> 3) & 7) != 2 ||
        uses_register(x86, X86_REG_RSP)) {
      return refuse("is a call through the stack pointer or of an unknown form");
    }
    auto jump = rebase(insn, from, slot + 6);
    if (!jump) return std::unexpected(jump.error());
    (*jump)[modrm] = static_cast<char>((insn.bytes[modrm] & 0xc7) | (4 << 3));
    code += std::string("\xff\x35", 2);
    append_i32(code, static_cast<std::int32_t>(jump->size()));
    code += *jump;
    append_u64(code, next);
    return code;
  }

  // Anything else (ret and indirect jumps included: they leave by themselves) runs as is, with
  // a rip-relative operand re-based, then jumps back after the original.
  auto copy = rebase(insn, from, slot);
  if (!copy) return std::unexpected(copy.error());
  code = std::move(*copy);
  append_absolute_jump(code, next);
  return code;
}

std::optional<std::uint64_t> DisplacedSlots::slot_of(std::uint64_t address) const {
  const auto found = slots_.find(address);
  if (found == slots_.end()) return std::nullopt;
  return found->second;
}

std::optional<std::uint64_t> DisplacedSlots::next_free() const {
  const std::uint64_t slot = area_start_ + slots_.size() * kDisplacedSlotSize;
  if (!has_area() || slot + kDisplacedSlotSize > area_start_ + area_size_) return std::nullopt;
  return slot;
}

void DisplacedSlots::assign(std::uint64_t address, std::uint64_t slot) {
  slots_[address] = slot;
  originals_[slot] = address;
}

std::optional<std::uint64_t> DisplacedSlots::original_at_slot_start(std::uint64_t pc) const {
  const auto found = originals_.find(pc);
  if (found == originals_.end()) return std::nullopt;
  return found->second;
}

}  // namespace gostub::target
