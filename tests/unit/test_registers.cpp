#include <doctest/doctest.h>
#include <sys/user.h>

#include <cstring>

#include "target/registers.hpp"

using namespace gostub::target;

namespace {
// The standard XSAVE offsets of a machine with AVX-512 (CPUID leaf 0xd on Skylake-SP and later).
XsaveLayout avx512_layout() {
  XsaveLayout layout;
  layout.xsave = true;
  layout.size = 2688;
  layout.avx = 576;
  layout.opmask = 1088;
  layout.zmm_hi256 = 1152;
  layout.hi16_zmm = 1664;
  return layout;
}
}  // namespace

TEST_CASE("the register table matches gdb's amd64-linux numbering and g packet size") {
  const auto registers = x86_64_registers(XsaveLayout{});
  REQUIRE(registers.size() == 60);
  CHECK(registers[regno::kRip].name == "rip");
  CHECK(registers[regno::kRsp].name == "rsp");
  CHECK(registers[regno::kRbp].name == "rbp");
  CHECK(registers[57].name == "orig_rax");
  CHECK(registers[58].name == "fs_base");
  CHECK(registers[59].name == "gs_base");
  // 16*8 + 8 + 4 + 6*4 + 8*10 + 8*4 + 16*16 + 4 + 8 + 2*8
  CHECK(register_file_size(XsaveLayout{}) == 560);
  CHECK(registers[59].offset + 8 == register_file_size(XsaveLayout{}));
}

TEST_CASE("AVX and AVX-512 registers follow in gdbserver's order (amd64-avx-avx512-linux)") {
  auto avx_only = avx512_layout();
  avx_only.opmask = avx_only.zmm_hi256 = avx_only.hi16_zmm = 0;
  const auto avx = x86_64_registers(avx_only);
  REQUIRE(avx.size() == 76);
  CHECK(avx[60].name == "ymm0h");
  CHECK(avx[75].name == "ymm15h");
  CHECK(avx[60].feature == "org.gnu.gdb.i386.avx");
  CHECK(avx[60].type == "uint128");
  CHECK(register_file_size(avx_only) == 560 + 16 * 16);

  const auto all = x86_64_registers(avx512_layout());
  REQUIRE(all.size() == 148);
  CHECK(all[76].name == "xmm16");
  CHECK(all[76].dwarf == 67);
  CHECK(all[92].name == "ymm16h");
  CHECK(all[108].name == "k0");
  CHECK(all[108].dwarf == 118);
  CHECK(all[116].name == "zmm0h");
  CHECK(all[116].bitsize == 256);
  CHECK(all[116].type == "v2ui128");
  CHECK(all[147].name == "zmm31h");
  CHECK(all[147].feature == "org.gnu.gdb.i386.avx512");
  CHECK(register_file_size(avx512_layout()) == 560 + 256 + 16 * 16 + 16 * 16 + 8 * 8 + 32 * 32);
}

TEST_CASE("the XSAVE area's components reach their registers, and back") {
  const auto layout = avx512_layout();
  std::string xsave(layout.size, '\0');
  const auto put = [&](std::size_t at, std::uint8_t first) {
    xsave[at] = static_cast<char>(first);
  };
  put(160, 0x11);                            // xmm0's first byte, in the legacy region
  put(layout.avx + 16 * 3, 0x33);            // ymm3h
  put(layout.opmask + 8 * 7, 0x77);          // k7
  put(layout.zmm_hi256 + 32 * 2, 0x22);      // zmm2h
  put(layout.hi16_zmm + 64 * 1, 0x41);       // xmm17
  put(layout.hi16_zmm + 64 * 1 + 16, 0x42);  // ymm17h
  put(layout.hi16_zmm + 64 * 1 + 32, 0x43);  // zmm17h
  const auto file = to_register_file(user_regs_struct{}, xsave, layout);
  REQUIRE(file.size() == register_file_size(layout));
  const auto registers = x86_64_registers(layout);
  const auto byte_of = [&](std::string_view name) {
    for (const auto& reg : registers) {
      if (reg.name == name) return static_cast<std::uint8_t>(file[reg.offset]);
    }
    FAIL("no register ", name);
    return std::uint8_t{0};
  };
  CHECK(byte_of("xmm0") == 0x11);
  CHECK(byte_of("ymm3h") == 0x33);
  CHECK(byte_of("k7") == 0x77);
  CHECK(byte_of("zmm2h") == 0x22);
  CHECK(byte_of("xmm17") == 0x41);
  CHECK(byte_of("ymm17h") == 0x42);
  CHECK(byte_of("zmm17h") == 0x43);
  CHECK(byte_of("ymm4h") == 0);

  std::string back(layout.size, '\0');
  user_regs_struct general{};
  from_register_file(file, general, back, layout);
  CHECK(back.size() == xsave.size());
  CHECK(static_cast<std::uint8_t>(back[layout.avx + 16 * 3]) == 0x33);
  CHECK(static_cast<std::uint8_t>(back[layout.hi16_zmm + 64 + 32]) == 0x43);
  CHECK(static_cast<std::uint8_t>(back[160]) == 0x11);
  // XSTATE_BV now says x87, SSE, AVX and the three AVX-512 components hold values.
  CHECK(static_cast<std::uint8_t>(back[512]) == 0xe7);
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
  REQUIRE(file.size() == register_file_size());  // this machine's: AVX parts read as zeros
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
