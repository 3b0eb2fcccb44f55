#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <vector>

#include "symbols/build_info.hpp"
#include "symbols/line_table.hpp"

using namespace gostub::symbols;

namespace {

// A pclntab with two functions, written field by field from the format description of each
// layout, so that what the reader must find is known exactly. No toolchain here produces the
// pre-1.18 layouts, so these tables are their test.
struct SyntheticTable {
  std::vector<std::uint8_t> bytes;
  PclntabVersion version;

  void u8(std::uint8_t v) { bytes.push_back(v); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void text(const char* s) { bytes.insert(bytes.end(), s, s + std::strlen(s) + 1); }
  void put_u64(std::size_t at, std::uint64_t v) { std::memcpy(bytes.data() + at, &v, 8); }
  void put_u32(std::size_t at, std::uint32_t v) { std::memcpy(bytes.data() + at, &v, 4); }
  std::uint32_t here(std::size_t base = 0) const {
    return static_cast<std::uint32_t>(bytes.size() - base);
  }

  explicit SyntheticTable(PclntabVersion which = PclntabVersion::k120) : version(which) {
    const bool go12 = which == PclntabVersion::k12;
    const bool relative_entries = which >= PclntabVersion::k118;
    constexpr std::uint64_t kText = 0x1000;
    u32(go12                            ? 0xfffffffb
        : which == PclntabVersion::k116 ? 0xfffffffa
        : which == PclntabVersion::k118 ? 0xfffffff0
                                        : 0xfffffff1);
    u8(0), u8(0), u8(1), u8(8);
    u64(2);  // functions
    std::size_t offsets = 0, functab = 0;
    if (go12) {
      // Go 1.2: the function table follows at once; names, files and pc tables are offsets
      // from the table's start.
      functab = bytes.size();
      for (int i = 0; i < 5; ++i) u64(0);  // (pc, funcoff) x2, end pc
      u32(0);                              // file table offset, patched below
    } else {
      u64(1);  // files
      if (relative_entries) u64(kText);
      offsets = bytes.size();
      for (int i = 0; i < 5; ++i) u64(0);  // funcname, cu, file, pc, func tables
    }
    const std::size_t names = bytes.size();
    if (!go12) put_u64(offsets + 0, names);
    text("main.a");  // name offset 0 (from the name table; 1.2: from the start)
    text("main.b");
    const auto name_a = go12 ? static_cast<std::uint32_t>(names) : 0u;
    const auto name_b = name_a + 7;
    std::uint32_t file_number = 0;
    if (go12) {
      const auto file_name = here();
      text("a.go");
      put_u32(functab + 5 * 8, here());  // the file table: slot 0 holds the count of slots
      u32(2), u32(file_name);
      file_number = 1;
    } else {
      put_u64(offsets + 8, here());
      u32(0);  // compile unit 0: file number 0 -> file table offset 0
      put_u64(offsets + 16, here());
      text("a.go");
      put_u64(offsets + 24, here());
    }
    const std::size_t pc_tables = go12 ? 0 : bytes.size();
    u8(0);  // offset 0 means "no table"
    const auto pcln_a = here(pc_tables);
    // line 10 for pc [0,4), line 11 for [4,8): value deltas zig-zagged (+11 -> 22, +1 -> 2)
    u8(22), u8(4), u8(2), u8(4), u8(0);
    const auto pcfile_a = here(pc_tables);
    u8(static_cast<std::uint8_t>(2 * (file_number + 1))), u8(8), u8(0);  // from -1 to the file
    const auto pcsp_a = here(pc_tables);
    u8(2), u8(1), u8(16), u8(7), u8(0);  // sp delta 0 for [0,1), 8 for [1,8)
    const auto pcln_b = here(pc_tables);
    u8(42), u8(6), u8(0);  // line 20 for [0,6): function b leaves 2 bytes of padding
    if (!go12) {
      put_u64(offsets + 32, here());
      functab = bytes.size();
      if (relative_entries) {
        u32(0), u32(0), u32(8), u32(0), u32(16);  // (entryoff, funcoff) x2, end
      } else {
        u64(kText), u64(0), u64(kText + 8), u64(0), u64(kText + 16);
      }
    } else {
      put_u64(functab + 0, kText), put_u64(functab + 16, kText + 8),
          put_u64(functab + 32, kText + 16);
    }
    const std::size_t funcdata = go12 ? 0 : functab;
    const auto write_func = [&](std::uint32_t entry, std::uint32_t name, std::uint32_t pcsp,
                                std::uint32_t pcfile, std::uint32_t pcln) {
      const auto at = here(funcdata);
      if (relative_entries) {
        u32(entry);
      } else {
        u64(kText + entry);
      }
      u32(name), u32(0), u32(0), u32(pcsp), u32(pcfile), u32(pcln), u32(0);
      if (!go12) u32(0);                          // cuOffset
      if (which == PclntabVersion::k120) u32(0);  // startLine
      u8(0), u8(0), u8(0), u8(0);                 // funcID, flag, _, nfuncdata
      return at;
    };
    const auto func_a = write_func(0, name_a, pcsp_a, pcfile_a, pcln_a);
    const auto func_b = write_func(8, name_b, 0, pcfile_a, pcln_b);
    if (relative_entries) {
      put_u32(functab + 4, func_a), put_u32(functab + 12, func_b);
    } else {
      put_u64(functab + 8, func_a), put_u64(functab + 24, func_b);
    }
  }
};

void exercise(const LineTable& table) {
  for (std::uint64_t pc = 0xff0; pc < 0x1020; ++pc) {
    if (const auto f = table.find(pc)) {
      (void)table.name(*f);
      (void)table.rows(*f);
    }
    (void)table.source_line(pc);
    (void)table.stack_delta(pc);
  }
  (void)table.find_by_name("main.b");
  (void)table.files();
  (void)table.pcs_for_line("a.go", 11);
}

}  // namespace

TEST_CASE("synthetic tables in every layout read back what was written") {
  for (const auto version :
       {PclntabVersion::k12, PclntabVersion::k116, PclntabVersion::k118, PclntabVersion::k120}) {
    CAPTURE(describe(version));
    const SyntheticTable synthetic(version);
    if (version >= PclntabVersion::k118)
      CHECK(LineTable::header_text_start(synthetic.bytes) == 0x1000);
    auto parsed = LineTable::parse(synthetic.bytes, 0x1000);
    REQUIRE(parsed.has_value());
    const auto& table = *parsed;
    CHECK(table.version() == version);
    CHECK(table.function_count() == 2);
    CHECK(table.file_count() == (version == PclntabVersion::k12 ? 2u : 1u));  // 1.2 counts slot 0

    const auto a = table.find(0x1003);
    REQUIRE(a.has_value());
    CHECK(table.name(*a) == "main.a");
    CHECK(a->entry == 0x1000);
    CHECK(a->end == 0x1008);
    CHECK(table.find(0x1008)->index == 1);
    CHECK_FALSE(table.find(0xfff).has_value());
    CHECK_FALSE(table.find(0x1010).has_value());

    CHECK(table.source_line(0x1000)->line == 10);
    CHECK(table.source_line(0x1003)->line == 10);
    CHECK(table.source_line(0x1004)->line == 11);
    CHECK(table.source_line(0x1004)->file == "a.go");
    CHECK(table.stack_delta(0x1000) == 0);
    CHECK(table.stack_delta(0x1001) == 8);
    CHECK(table.stack_delta(0x1007) == 8);
    CHECK_FALSE(table.stack_delta(0x1008).has_value());  // main.b has no pcsp table

    const auto rows = table.rows(*a);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].pc == 0x1000);
    CHECK(rows[1].pc == 0x1004);
    CHECK(rows[1].line.line == 11);

    const auto b = table.find_by_name("main.b");
    REQUIRE(b.has_value());
    const auto rows_b = table.rows(*b);
    REQUIRE(rows_b.size() == 2);
    CHECK(rows_b[0].line.line == 20);
    CHECK(rows_b[1].pc == 0x100e);  // the padding
    CHECK(rows_b[1].line.line == -1);
    CHECK_FALSE(table.source_line(0x100e).has_value());

    CHECK(table.pcs_for_line("a.go", 11) == std::vector<std::uint64_t>{0x1004});
    CHECK(table.files() == std::vector<std::string_view>{"a.go"});
  }
}

TEST_CASE("bad headers are errors") {
  CHECK_FALSE(LineTable::parse({}, 0).has_value());
  SyntheticTable synthetic;
  synthetic.bytes[0] = 0x42;
  CHECK(LineTable::parse(synthetic.bytes, 0).error().message.find("magic") != std::string::npos);
  synthetic = SyntheticTable();
  synthetic.bytes[7] = 3;  // pointer size
  CHECK_FALSE(LineTable::parse(synthetic.bytes, 0).has_value());
}

TEST_CASE("every truncation and random corruption is survived") {
  for (const auto version : {PclntabVersion::k12, PclntabVersion::k116, PclntabVersion::k120}) {
    const SyntheticTable synthetic(version);
    for (std::size_t length = 0; length <= synthetic.bytes.size(); ++length) {
      const std::span<const std::uint8_t> cut(synthetic.bytes.data(), length);
      if (const auto table = LineTable::parse(cut, 0x1000)) exercise(*table);
    }
    std::mt19937 random(7);
    for (int round = 0; round < 3000; ++round) {
      auto bytes = synthetic.bytes;
      for (int flips = 0; flips < 3; ++flips) {
        bytes[8 + random() % (bytes.size() - 8)] = static_cast<std::uint8_t>(random());
      }
      if (const auto table = LineTable::parse(bytes, 0x1000)) exercise(*table);
    }
  }
}

TEST_CASE("module text as runtime/debug writes it") {
  BuildInfo info;
  const auto parsed = parse_module_info(
      "path\texample.com/cmd\n"
      "mod\texample.com\t(devel)\t\n"
      "dep\tgolang.org/x/sys\tv0.1.0\th1:abc=\n"
      "dep\texample.com/old\tv1.0.0\th1:def=\n"
      "=>\texample.com/new\tv1.1.0\th1:ghi=\n"
      "build\t-ldflags=\"-s -w\"\n"
      "build\tCGO_ENABLED=0\n"
      "build\t\"odd key\"=`raw value`\n"
      "unterminated line is ignored",
      info);
  REQUIRE(parsed.has_value());
  CHECK(info.path == "example.com/cmd");
  REQUIRE(info.main.has_value());
  CHECK(info.main->version == "(devel)");
  REQUIRE(info.dependencies.size() == 2);
  CHECK(info.dependencies[0].sum == "h1:abc=");
  REQUIRE(info.dependencies[1].replaced_by.has_value());
  CHECK(info.dependencies[1].replaced_by->first == "example.com/new");
  REQUIRE(info.settings.size() == 3);
  CHECK(*info.setting("-ldflags") == "-s -w");
  CHECK(*info.setting("CGO_ENABLED") == "0");
  CHECK(*info.setting("odd key") == "raw value");

  BuildInfo broken;
  CHECK_FALSE(parse_module_info("mod\tonly-one-column\n", broken).has_value());
  CHECK_FALSE(parse_module_info("=>\ta\tb\tc\n", broken).has_value());
  CHECK_FALSE(parse_module_info("build\tnovalue\n", broken).has_value());
  CHECK_FALSE(parse_module_info("build\t\"unclosed=1\n", broken).has_value());
}

TEST_CASE("Go minor versions") {
  BuildInfo info;
  info.go_version = "go1.21.5";
  CHECK(info.go_minor() == 21);
  info.go_version = "go1.9";
  CHECK(info.go_minor() == 9);
  info.go_version = "devel go1.24-abc";
  CHECK_FALSE(info.go_minor().has_value());
}
