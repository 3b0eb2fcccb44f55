// Instruction relocation for displaced stepping: the relocated code is decoded with Capstone
// at its slot and its effect compared with the original's; a few forms are also run natively.
#include <capstone/capstone.h>
#include <doctest/doctest.h>
#include <sys/mman.h>

#include <cstring>
#include <string>
#include <vector>

#include "target/displaced_step.hpp"

using namespace gostub::target;

namespace {

constexpr std::uint64_t kFrom = 0x401000;
constexpr std::uint64_t kSlot = 0x3f0000;

struct Instruction {
  std::uint64_t address;
  unsigned id;
  std::string mnemonic, operands;
  std::vector<std::uint8_t> bytes;
  std::int64_t imm = 0;          // first immediate operand (a branch target)
  std::uint64_t rip_target = 0;  // a rip-relative memory operand's absolute address
};

std::vector<Instruction> decode(const std::string& code, std::uint64_t at) {
  csh handle = 0;
  REQUIRE(cs_open(CS_ARCH_X86, CS_MODE_64, &handle) == CS_ERR_OK);
  cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
  cs_insn* insns = nullptr;
  const auto count = cs_disasm(handle, reinterpret_cast<const std::uint8_t*>(code.data()),
                               code.size(), at, 0, &insns);
  std::vector<Instruction> out;
  for (std::size_t i = 0; i < count; ++i) {
    Instruction one{insns[i].address,
                    insns[i].id,
                    insns[i].mnemonic,
                    insns[i].op_str,
                    {insns[i].bytes, insns[i].bytes + insns[i].size}};
    const auto& x86 = insns[i].detail->x86;
    for (std::uint8_t k = 0; k < x86.op_count; ++k) {
      if (x86.operands[k].type == X86_OP_IMM && one.imm == 0) one.imm = x86.operands[k].imm;
      if (x86.operands[k].type == X86_OP_MEM && x86.operands[k].mem.base == X86_REG_RIP) {
        one.rip_target = insns[i].address + insns[i].size + x86.operands[k].mem.disp;
      }
    }
    out.push_back(std::move(one));
  }
  cs_free(insns, count);
  cs_close(&handle);
  return out;
}

std::string relocated(std::vector<std::uint8_t> bytes, std::uint64_t from = kFrom,
                      std::uint64_t slot = kSlot) {
  auto code = relocate_instruction(bytes, from, slot);
  REQUIRE_MESSAGE(code.has_value(), (code ? "" : code.error().message));
  CHECK(code->size() <= kDisplacedSlotSize);
  return *code;
}

std::uint64_t u64_at(const std::string& code, std::size_t offset) {
  std::uint64_t value = 0;
  REQUIRE(offset + 8 <= code.size());
  std::memcpy(&value, code.data() + offset, 8);
  return value;
}

// The target of the absolute jump (jmp [rip+0]; dq target) at `offset`.
std::uint64_t absolute_jump_at(const std::string& code, std::size_t offset) {
  REQUIRE(code.compare(offset, 6, std::string("\xff\x25\x00\x00\x00\x00", 6)) == 0);
  return u64_at(code, offset + 6);
}

}  // namespace

TEST_CASE("an ordinary instruction is copied and followed by a jump back") {
  for (const auto& bytes : std::vector<std::vector<std::uint8_t>>{
           {0x48, 0x8b, 0x43, 0x08},        // mov rax, [rbx+8]
           {0x49, 0x3b, 0x66, 0x10},        // cmp rsp, [r14+0x10]: Go's stack check
           {0x48, 0x83, 0xec, 0x28},        // sub rsp, 0x28
           {0x55},                          // push rbp
           {0x48, 0x89, 0x44, 0x24, 0x08},  // mov [rsp+8], rax
           {0x0f, 0x1f, 0x44, 0x00, 0x00},  // nop dword [rax+rax]
           {0xc3},                          // ret: leaves by itself
           {0xff, 0xe2},                    // jmp rdx
       }) {
    const auto code = relocated(bytes);
    CHECK(code.compare(0, bytes.size(), std::string(bytes.begin(), bytes.end())) == 0);
    CHECK(absolute_jump_at(code, bytes.size()) == kFrom + bytes.size());
  }
}

TEST_CASE("trailing bytes after the instruction are ignored") {
  const auto code = relocated({0x90, 0xcc, 0xcc, 0xcc});
  CHECK(code.size() == 1 + 14);
  CHECK(absolute_jump_at(code, 1) == kFrom + 1);
}

TEST_CASE("a rip-relative operand names the same address from the slot") {
  for (const auto& bytes : std::vector<std::vector<std::uint8_t>>{
           {0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00},        // mov rax, [rip+0x100]
           {0x48, 0x8d, 0x0d, 0xe0, 0xff, 0xff, 0xff},        // lea rcx, [rip-0x20]
           {0x80, 0x3d, 0x10, 0x00, 0x00, 0x00, 0x05},        // cmp byte [rip+0x10], 5
           {0xc7, 0x05, 0x10, 0x00, 0x00, 0x00, 1, 0, 0, 0},  // mov dword [rip+0x10], 1
           {0xff, 0x25, 0x40, 0x00, 0x00, 0x00},              // jmp [rip+0x40]
           {0x66, 0x0f, 0x6f, 0x05, 0x08, 0x00, 0x00, 0x00},  // movdqa xmm0, [rip+8]
       }) {
    const auto original = decode(std::string(bytes.begin(), bytes.end()), kFrom);
    REQUIRE(original.size() == 1);
    const auto code = relocated(bytes);
    const auto moved = decode(code.substr(0, bytes.size()), kSlot);
    REQUIRE(moved.size() == 1);
    CHECK(moved[0].mnemonic == original[0].mnemonic);
    CHECK(moved[0].rip_target == original[0].rip_target);
    CHECK(moved[0].bytes.size() == bytes.size());
    CHECK(absolute_jump_at(code, bytes.size()) == kFrom + bytes.size());
  }
}

TEST_CASE("a rip-relative operand out of a 32-bit reach of the slot is refused") {
  const std::vector<std::uint8_t> load = {0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00};
  CHECK_FALSE(relocate_instruction(load, kFrom, 0x7f0000000000).has_value());
}

TEST_CASE("relative jumps and calls go to the original targets") {
  SUBCASE("jmp rel8 and rel32") {
    CHECK(absolute_jump_at(relocated({0xeb, 0x10}), 0) == kFrom + 2 + 0x10);
    CHECK(absolute_jump_at(relocated({0xe9, 0x00, 0x10, 0x00, 0x00}), 0) == kFrom + 5 + 0x1000);
    CHECK(absolute_jump_at(relocated({0xeb, 0xfe}), 0) == kFrom);  // jmp to itself
  }
  SUBCASE("call rel32 pushes the original return address") {
    const auto code = relocated({0xe8, 0xfb, 0xff, 0xff, 0xff});  // call kFrom (rel -5)
    const auto insns = decode(code.substr(0, 6), kSlot);
    REQUIRE(insns.size() == 1);
    CHECK(insns[0].mnemonic == "push");
    CHECK(u64_at(code, insns[0].rip_target - kSlot) == kFrom + 5);
    CHECK(absolute_jump_at(code, 6) == kFrom);
  }
}

TEST_CASE("a conditional branch keeps its condition and both ways out") {
  struct Case {
    std::vector<std::uint8_t> bytes;
    std::string mnemonic;
    std::uint64_t target;
  };
  for (const auto& one : std::vector<Case>{
           {{0x74, 0x05}, "je", kFrom + 7},
           {{0x7f, 0xf0}, "jg", kFrom + 2 - 0x10},
           {{0x0f, 0x85, 0x00, 0x02, 0x00, 0x00}, "jne", kFrom + 6 + 0x200},
           {{0x0f, 0x82, 0xf0, 0xff, 0xff, 0xff}, "jb", kFrom + 6 - 0x10},
           {{0xe3, 0x08}, "jrcxz", kFrom + 2 + 8},
           {{0xe2, 0xfe}, "loop", kFrom},
       }) {
    CAPTURE(one.mnemonic);
    const auto code = relocated(one.bytes);
    const auto branch = decode(code.substr(0, code.size() - 28), kSlot);
    REQUIRE(branch.size() == 1);
    CHECK(branch[0].mnemonic == one.mnemonic);
    const std::size_t not_taken = branch[0].bytes.size();
    CHECK(static_cast<std::uint64_t>(branch[0].imm) == kSlot + not_taken + 14);
    CHECK(absolute_jump_at(code, not_taken) == kFrom + one.bytes.size());
    CHECK(absolute_jump_at(code, not_taken + 14) == one.target);
  }
}

TEST_CASE("an indirect call pushes the original return address and jumps") {
  struct Case {
    std::vector<std::uint8_t> bytes;
    std::string jump;
  };
  for (const auto& one : std::vector<Case>{
           {{0xff, 0xd2}, "rdx"},                           // call rdx (Go's closure calls)
           {{0x41, 0xff, 0xd3}, "r11"},                     // call r11
           {{0xff, 0x12}, "qword ptr [rdx]"},               // call [rdx]
           {{0xff, 0x50, 0x18}, "qword ptr [rax + 0x18]"},  // call [rax+0x18]: a method
       }) {
    CAPTURE(one.jump);
    const auto code = relocated(one.bytes);
    const auto insns = decode(code.substr(0, 6 + one.bytes.size()), kSlot);
    REQUIRE(insns.size() == 2);
    CHECK(insns[0].mnemonic == "push");
    CHECK(u64_at(code, insns[0].rip_target - kSlot) == kFrom + one.bytes.size());
    CHECK(insns[1].mnemonic == "jmp");
    CHECK(insns[1].operands == one.jump);
  }
  SUBCASE("through a rip-relative pointer") {
    const std::vector<std::uint8_t> bytes = {0xff, 0x15, 0x10, 0x00, 0x00, 0x00};
    const auto code = relocated(bytes);
    const auto insns = decode(code.substr(0, 12), kSlot);
    REQUIRE(insns.size() == 2);
    CHECK(insns[1].mnemonic == "jmp");
    CHECK(insns[1].rip_target == kFrom + 6 + 0x10);
  }
}

TEST_CASE("what cannot run elsewhere is refused") {
  for (const auto& bytes : std::vector<std::vector<std::uint8_t>>{
           {0x0f, 0x05},              // syscall
           {0xcc},                    // int3
           {0xcd, 0x80},              // int 0x80
           {0xff, 0x54, 0x24, 0x08},  // call [rsp+8]: read after the push
           {0xff, 0xd4},              // call rsp
           {0x66, 0xe8, 0x00, 0x00},  // call with a 16-bit operand size
           {0x0f, 0x0b},              // ud2
           {0xff},                    // not an instruction
       }) {
    CAPTURE(bytes.size());
    CHECK_FALSE(relocate_instruction(bytes, kFrom, kSlot).has_value());
  }
}

TEST_CASE("relocated code runs natively as the original would") {
  // Two pages: the "original" code and a slot, both executable, within reach of each other.
  auto* pages = static_cast<std::uint8_t*>(::mmap(nullptr, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
                                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  REQUIRE(pages != MAP_FAILED);
  auto* original = pages;
  auto* slot = pages + 4096;
  const auto run = [&](std::vector<std::uint8_t> function) {
    std::memcpy(original, function.data(), function.size());
    const auto code = relocate_instruction(function, reinterpret_cast<std::uint64_t>(original),
                                           reinterpret_cast<std::uint64_t>(slot));
    REQUIRE(code.has_value());
    std::memcpy(slot, code->data(), code->size());
    // The function entered through the slot (its first instruction displaced).
    return reinterpret_cast<std::uint64_t (*)(std::uint64_t)>(slot)(7);
  };
  SUBCASE("lea rax, [rip+0x100]; ret") {
    const auto expected = reinterpret_cast<std::uint64_t>(original) + 7 + 0x100;
    CHECK(run({0x48, 0x8d, 0x05, 0x00, 0x01, 0x00, 0x00, 0xc3}) == expected);
  }
  SUBCASE("call +1; ret; lea rax, [rdi+35]; ret") {
    CHECK(run({0xe8, 0x01, 0x00, 0x00, 0x00, 0xc3, 0x48, 0x8d, 0x47, 0x23, 0xc3}) == 42);
  }
  SUBCASE("cmp rdi, 7; je +3; xor eax, eax; ret; mov eax, 1; ret") {
    // The branch is the second instruction: run the compare natively, displace the branch.
    const std::vector<std::uint8_t> function = {0x48, 0x83, 0xff, 0x07, 0x74, 0x03, 0x31, 0xc0,
                                                0xc3, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3};
    std::memcpy(original, function.data(), function.size());
    const auto branch = relocate_instruction(std::span(function).subspan(4),
                                             reinterpret_cast<std::uint64_t>(original + 4),
                                             reinterpret_cast<std::uint64_t>(slot + 4));
    REQUIRE(branch.has_value());
    std::memcpy(slot, function.data(), 4);  // the compare, then the displaced branch
    std::memcpy(slot + 4, branch->data(), branch->size());
    using Function = std::uint64_t (*)(std::uint64_t);
    CHECK(reinterpret_cast<Function>(slot)(7) == 1);
    CHECK(reinterpret_cast<Function>(slot)(8) == 0);
  }
  SUBCASE("call rsi (an indirect call) returns after the original") {
    // mov rax, rdi; call rsi; ret — displacing `call rsi` at offset 3.
    const std::vector<std::uint8_t> function = {0x48, 0x89, 0xf8, 0xff, 0xd6, 0xc3};
    std::memcpy(original, function.data(), function.size());
    // The callee, elsewhere on the page: add rax, 5; ret.
    const std::vector<std::uint8_t> callee = {0x48, 0x83, 0xc0, 0x05, 0xc3};
    std::memcpy(original + 64, callee.data(), callee.size());
    const auto call = relocate_instruction(std::span(function).subspan(3),
                                           reinterpret_cast<std::uint64_t>(original + 3),
                                           reinterpret_cast<std::uint64_t>(slot + 3));
    REQUIRE(call.has_value());
    std::memcpy(slot, function.data(), 3);
    std::memcpy(slot + 3, call->data(), call->size());
    using Function = std::uint64_t (*)(std::uint64_t, std::uint64_t);
    CHECK(reinterpret_cast<Function>(slot)(37, reinterpret_cast<std::uint64_t>(original + 64)) ==
          42);
  }
  ::munmap(pages, 8192);
}

TEST_CASE("slots: one per breakpoint address, never reused") {
  DisplacedSlots slots;
  CHECK_FALSE(slots.next_free().has_value());
  slots.set_area(0x10000, 3 * kDisplacedSlotSize);
  CHECK(slots.next_free() == 0x10000);
  slots.assign(0x401000, 0x10000);
  CHECK(slots.slot_of(0x401000) == 0x10000);
  CHECK(slots.next_free() == 0x10000 + kDisplacedSlotSize);
  slots.assign(0x401010, *slots.next_free());
  slots.assign(0x401020, *slots.next_free());
  CHECK_FALSE(slots.next_free().has_value());
  CHECK(slots.original_at_slot_start(0x10000 + kDisplacedSlotSize) == 0x401010);
  CHECK_FALSE(slots.original_at_slot_start(0x10001).has_value());
  CHECK(slots.contains(0x10000 + 3 * kDisplacedSlotSize - 1));
  CHECK_FALSE(slots.contains(0x10000 + 3 * kDisplacedSlotSize));
  slots.refuse(0x402000);
  CHECK(slots.refused(0x402000));
  slots.reset();
  CHECK_FALSE(slots.has_area());
}
