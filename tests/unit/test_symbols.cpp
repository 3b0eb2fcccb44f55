#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <vector>

#include "symbols/build_info.hpp"
#include "symbols/line_table.hpp"
#include "synthetic_pclntab.hpp"

using namespace gostub::symbols;
using gostub::symbols::testing::SyntheticTable;

namespace {

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
