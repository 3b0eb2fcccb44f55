// A synthetic pclntab, shared by the unit tests and the fuzzers' seed generator.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "symbols/line_table.hpp"

namespace gostub::symbols::testing {

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

}  // namespace gostub::symbols::testing
