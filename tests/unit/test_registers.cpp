#include <doctest/doctest.h>
#include <sys/user.h>

#include <cstring>

#include "target/registers.hpp"

using namespace gostub::target;

TEST_CASE("the register table matches gdb's amd64-linux numbering and g packet size") {
  const auto registers = x86_64_registers();
  REQUIRE(registers.size() == 60);
  CHECK(registers[regno::kRip].name == "rip");
  CHECK(registers[regno::kRsp].name == "rsp");
  CHECK(registers[regno::kRbp].name == "rbp");
  CHECK(registers[57].name == "orig_rax");
  CHECK(registers[58].name == "fs_base");
  CHECK(registers[59].name == "gs_base");
  // 16*8 + 8 + 4 + 6*4 + 8*10 + 8*4 + 16*16 + 4 + 8 + 2*8
  CHECK(register_file_size() == 560);
  CHECK(registers[59].offset + 8 == register_file_size());
}

TEST_CASE("kernel structures survive a round trip through the register file") {
  user_regs_struct general{};
  user_fpregs_struct fp{};
  general.rip = 0x4a03c0;
  general.rsp = 0xc000123456;
  general.r14 = 0xc000000180;
  general.eflags = 0x246;
  general.fs_base = 0x53cc70;
  general.orig_rax = static_cast<unsigned long long>(-1);
  fp.cwd = 0x37f;
  fp.mxcsr = 0x1f80;
  fp.ftw = 0x01;  // physical register 0 in use
  fp.swd = 0;     // top = 0, so st0 is physical register 0
  const unsigned char one[10] = {0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f};  // 1.0L
  std::memcpy(fp.st_space, one, sizeof one);
  fp.xmm_space[0] = 0xdeadbeef;

  const auto file = to_register_file(general, fp);
  REQUIRE(file.size() == register_file_size());
  std::uint64_t rip = 0;
  std::memcpy(&rip, file.data() + x86_64_registers()[regno::kRip].offset, 8);
  CHECK(rip == 0x4a03c0);
  std::uint32_t ftag = 0;
  std::memcpy(&ftag, file.data() + x86_64_registers()[34].offset, 4);
  CHECK(ftag == 0xfffc);  // st0 valid (00), the other seven empty (11)

  user_regs_struct general_back{};
  user_fpregs_struct fp_back{};
  from_register_file(file, general_back, fp_back);
  CHECK(general_back.rip == general.rip);
  CHECK(general_back.rsp == general.rsp);
  CHECK(general_back.r14 == general.r14);
  CHECK(general_back.eflags == general.eflags);
  CHECK(general_back.fs_base == general.fs_base);
  CHECK(general_back.orig_rax == general.orig_rax);
  CHECK(fp_back.cwd == fp.cwd);
  CHECK(fp_back.mxcsr == fp.mxcsr);
  CHECK(fp_back.ftw == fp.ftw);
  CHECK(fp_back.xmm_space[0] == 0xdeadbeef);
  CHECK(std::memcmp(fp_back.st_space, one, sizeof one) == 0);
}

TEST_CASE("one register read from the register file") {
  user_regs_struct general{};
  user_fpregs_struct fp{};
  general.r14 = 0xc000002000;
  general.fs_base = 0x7f0000001000;
  general.eflags = 0x246;
  const auto file = to_register_file(general, fp);
  CHECK(register_value(file, regno::kR14) == 0xc000002000);
  CHECK(register_value(file, regno::kFsBase) == 0x7f0000001000);
  CHECK(register_value(file, 17) == 0x246);  // eflags: 32 bits, zero-extended
}
