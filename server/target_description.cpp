#include "server/target_description.hpp"

#include <fmt/format.h>

#include <string_view>

#include "server/go_registers.hpp"
#include "target/registers.hpp"

namespace gostub::server {

namespace {

// Types that gdb's own i386 feature files define; gdb formats eflags, mxcsr and xmm with them.
constexpr std::string_view kCoreTypes = R"(<flags id="i386_eflags" size="4">
<field name="CF" start="0" end="0"/><field name="" start="1" end="1"/>
<field name="PF" start="2" end="2"/><field name="AF" start="4" end="4"/>
<field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
<field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/>
<field name="DF" start="10" end="10"/><field name="OF" start="11" end="11"/>
<field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
<field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/>
<field name="VIF" start="19" end="19"/><field name="VIP" start="20" end="20"/>
<field name="ID" start="21" end="21"/>
</flags>
)";

constexpr std::string_view kVectorTypes = R"(<vector id="v8bf16" type="bfloat16" count="8"/>
<vector id="v8h" type="ieee_half" count="8"/>
<vector id="v4f" type="ieee_single" count="4"/>
<vector id="v2d" type="ieee_double" count="2"/>
<vector id="v16i8" type="int8" count="16"/>
<vector id="v8i16" type="int16" count="8"/>
<vector id="v4i32" type="int32" count="4"/>
<vector id="v2i64" type="int64" count="2"/>
<union id="vec128">
<field name="v8_bfloat16" type="v8bf16"/><field name="v8_half" type="v8h"/>
<field name="v4_float" type="v4f"/>
<field name="v2_double" type="v2d"/><field name="v16_int8" type="v16i8"/>
<field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/>
<field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/>
</union>
)";

constexpr std::string_view kMxcsrType = R"(<flags id="i386_mxcsr" size="4">
<field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/>
<field name="ZE" start="2" end="2"/><field name="OE" start="3" end="3"/>
<field name="UE" start="4" end="4"/><field name="PE" start="5" end="5"/>
<field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/>
<field name="DM" start="8" end="8"/><field name="ZM" start="9" end="9"/>
<field name="OM" start="10" end="10"/><field name="UM" start="11" end="11"/>
<field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/>
</flags>
)";

// lldb's "generic" roles (lldb/docs/resources/lldbgdbremote.md, qRegisterInfo).
std::string_view generic_role(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kRoles[] = {
      {"rip", "pc"},   {"rsp", "sp"},   {"rbp", "fp"},   {"eflags", "flags"}, {"rdi", "arg1"},
      {"rsi", "arg2"}, {"rdx", "arg3"}, {"rcx", "arg4"}, {"r8", "arg5"},      {"r9", "arg6"}};
  for (const auto& [reg, role] : kRoles) {
    if (reg == name) return role;
  }
  return {};
}

std::string build(bool lldb, bool with_go) {
  std::string xml =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
      "<target version=\"1.0\">\n<architecture>i386:x86-64</architecture>\n"
      "<osabi>GNU/Linux</osabi>\n";
  std::string_view open_feature;
  std::uint32_t regno = 0;
  for (const auto& reg : target::x86_64_registers()) {
    if (reg.feature != open_feature) {
      if (!open_feature.empty()) xml += "</feature>\n";
      open_feature = reg.feature;
      xml += fmt::format("<feature name=\"{}\">\n", reg.feature);
      if (reg.feature == "org.gnu.gdb.i386.core") xml += kCoreTypes;
      if (reg.feature == "org.gnu.gdb.i386.sse") {
        xml += kVectorTypes;
        xml += kMxcsrType;
      }
      if (reg.feature == "org.gnu.gdb.i386.avx512") {  // as gdb's 64bit-avx512.xml
        xml += kVectorTypes;
        xml += "<vector id=\"v2ui128\" type=\"uint128\" count=\"2\"/>\n";
      }
    }
    xml += fmt::format("<reg name=\"{}\" bitsize=\"{}\" type=\"{}\" regnum=\"{}\"", reg.name,
                       reg.bitsize, reg.type, regno);
    if (!reg.group.empty()) xml += fmt::format(" group=\"{}\"", reg.group);
    if (lldb) {
      // As lldb-server describes them: integers in hex (a code_ptr type makes lldb print the
      // symbol twice), vectors as bytes.
      const bool vector = reg.type == "vec128" || reg.type == "i387_ext" || reg.type == "uint128" ||
                          reg.type == "v2ui128";
      xml += vector ? " encoding=\"vector\" format=\"vector-uint8\""
                    : " encoding=\"uint\" format=\"hex\"";
      if (reg.name == "eflags") xml += " altname=\"rflags\"";
      xml += fmt::format(" offset=\"{}\"", reg.offset);
      if (reg.dwarf >= 0) {
        xml += fmt::format(" dwarf_regnum=\"{}\" ehframe_regnum=\"{}\"", reg.dwarf, reg.dwarf);
      }
      if (const auto role = generic_role(reg.name); !role.empty()) {
        xml += fmt::format(" generic=\"{}\"", role);
      }
    }
    xml += "/>\n";
    ++regno;
  }
  // No sub-registers for lldb: its x86 ABI adds eax…al, r8d…r15l and ymm0-15 (xmm + ymmNh)
  // itself, as it does for gdbserver's description, but only when none is there already.
  xml += "</feature>\n";
  if (!with_go) return xml + "</target>\n";
  xml += "<feature name=\"org.golang.go\">\n";
  std::size_t offset = target::register_file_size();
  for (const auto& go : kGoRegisters) {
    xml += fmt::format("<reg name=\"{}\" bitsize=\"64\" type=\"{}\" regnum=\"{}\" group=\"go\"",
                       go.name, go.type, go_register_number(go.which));
    if (lldb) {
      xml += fmt::format(" encoding=\"{}\" format=\"{}\" offset=\"{}\"",
                         go.which == GoRegister::kGoid ? "sint" : "uint",
                         go.which == GoRegister::kGoid ? "decimal" : "hex", offset);
    }
    xml += "/>\n";
    offset += 8;
  }
  xml += "</feature>\n</target>\n";
  return xml;
}

// lldb-server's register sets, by gdb feature.
std::string_view register_set(std::string_view feature, std::string_view type) {
  if (feature == "org.gnu.gdb.i386.sse") return "Floating Point Registers";
  if (type == "i387_ext" || (feature == "org.gnu.gdb.i386.core" && type == "int")) {
    return "Floating Point Registers";
  }
  return "General Purpose Registers";
}

}  // namespace

std::optional<std::string> x86_64_register_info(std::size_t regno) {
  const auto registers = target::x86_64_registers();
  if (regno < registers.size()) {
    const auto& reg = registers[regno];
    const bool vector = reg.type == "vec128" || reg.type == "i387_ext";
    std::string info = fmt::format("name:{};", reg.name);
    // Named as in gdb's layout (a 32-bit eflags), with lldb-server's name as the alternative.
    if (reg.name == "eflags") info += "alt-name:rflags;";
    info += fmt::format("bitsize:{};offset:{};encoding:{};format:{};set:{};", reg.bitsize,
                        reg.offset, vector ? "vector" : "uint", vector ? "vector-uint8" : "hex",
                        register_set(reg.feature, reg.type));
    if (reg.dwarf >= 0) info += fmt::format("ehframe:{};dwarf:{};", reg.dwarf, reg.dwarf);
    if (const auto role = generic_role(reg.name); !role.empty()) {
      info += fmt::format("generic:{};", role);
    } else if (reg.name == "fs_base") {
      info += "generic:tp;";
    }
    return info;
  }
  // No sub-registers (eax…al): as in target.xml, the client's x86 ABI derives them.
  return std::nullopt;
}

const std::string& x86_64_target_xml(bool go) {
  static const std::string with_go = build(false, true);
  static const std::string machine_only = build(false, false);
  return go ? with_go : machine_only;
}

const std::string& x86_64_target_xml_for_lldb() {
  static const std::string xml = build(true, true);
  return xml;
}

}  // namespace gostub::server
