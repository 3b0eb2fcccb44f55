// The few DWARF 4 encodings a symbol image needs, written straight into byte buffers: a line
// program (.debug_line), call-frame information (.debug_frame) and one compile unit of
// subprograms (.debug_info, .debug_abbrev).
//
// Why not libdwarf's producer, which wrote them before: it keeps an object per line row and per
// frame instruction until the end, and for dockerd (75 MB, 1.16 million rows) peaked at 485 MB
// and 3.2 s, where the goal is pclntab's size plus 20% and under a second; and its 2021 line
// program cannot say prologue_end. These encoders write each row in two or three bytes as it
// comes. Debian has no other DWARF writer short of LLVM's MC layer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gostub::symbols::dwarf {

// Little-endian fixed-size and LEB128 values appended to a string.
class Bytes {
 public:
  void u8(std::uint8_t value) { out_.push_back(static_cast<char>(value)); }
  void u16(std::uint16_t value) { fixed(value, 2); }
  void u32(std::uint32_t value) { fixed(value, 4); }
  void u64(std::uint64_t value) { fixed(value, 8); }
  void uleb(std::uint64_t value);
  void sleb(std::int64_t value);
  void text(std::string_view value) {  // NUL-terminated
    out_.append(value);
    out_.push_back('\0');
  }
  void append(std::string_view bytes) { out_.append(bytes); }
  // Overwrites 4 bytes at `offset` (a length known only at the end).
  void patch_u32(std::size_t offset, std::uint32_t value);
  std::size_t size() const { return out_.size(); }
  std::string& str() { return out_; }

 private:
  void fixed(std::uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>(value >> (8 * i)));
  }
  std::string out_;
};

// .debug_line: one sequence per function, rows in address order.
class LineProgram {
 public:
  void begin_sequence(std::uint64_t address);
  // Returns the file's number in the table (from 1).
  std::uint64_t row(std::uint64_t address, std::string_view file, std::int64_t line,
                    bool prologue_end);
  void end_sequence(std::uint64_t end_address);
  std::size_t file_count() const { return files_.size(); }
  // The whole section: header, file table, program.
  std::string finish();

 private:
  void advance_to(std::uint64_t address);
  Bytes program_;
  Bytes file_table_;
  std::unordered_map<std::string_view, std::uint64_t> files_;  // name -> number (from 1)
  std::string_view last_name_;                                 // the last row's, and its number
  std::uint64_t last_number_ = 0;
  std::uint64_t address_ = 0, file_ = 1;
  std::int64_t line_ = 1;
};

// .debug_frame: one CIE (CFA = rsp + 8, return address at CFA - 8), an FDE per function.
class FrameTable {
 public:
  FrameTable();
  void begin(std::uint64_t entry, std::uint64_t end);
  void advance_to(std::uint64_t address);
  void cfa_offset(std::uint64_t offset);
  void rbp_saved_at_cfa_minus_16();
  void rbp_restored();
  void end();
  std::string finish() { return std::move(bytes_.str()); }

 private:
  Bytes bytes_;
  std::size_t fde_start_ = 0;
  std::uint64_t location_ = 0;
};

// .debug_info and .debug_abbrev: one compile unit holding a subprogram per function.
class CompileUnit {
 public:
  // `ranges`: the unit's address ranges' offset in .debug_ranges (absolute addresses: the
  // unit's base address is 0); `line_program`: its line program's offset in .debug_line.
  CompileUnit(std::string_view name, std::string_view producer, unsigned language,
              std::uint32_t ranges, std::uint32_t line_program);
  // `file`: its number in the line program's table; 0 and 0 when unknown.
  void subprogram(std::string_view name, std::uint64_t low, std::uint64_t high, std::uint64_t file,
                  std::uint64_t line);
  std::string finish_info();
  static std::string abbreviations();

 private:
  Bytes info_;
};

}  // namespace gostub::symbols::dwarf
