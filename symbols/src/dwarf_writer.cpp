#include "dwarf_writer.hpp"

#include <dwarf.h>

namespace gostub::symbols::dwarf {

namespace {

// The line program's special opcodes cover line steps of [kLineBase, kLineBase + kLineRange).
constexpr std::int64_t kLineBase = -5;
constexpr std::uint64_t kLineRange = 14;
constexpr std::uint8_t kOpcodeBase = 13;
constexpr std::uint8_t kStandardOpcodeLengths[kOpcodeBase - 1] = {0, 1, 1, 1, 1, 0,
                                                                  0, 0, 1, 0, 0, 1};
constexpr std::uint8_t kDwarfRbp = 6, kDwarfRsp = 7, kDwarfReturnAddress = 16;

void pad_to_8(Bytes& bytes, std::size_t start) {
  while ((bytes.size() - start) % 8 != 0) bytes.u8(DW_CFA_nop);
}

}  // namespace

void Bytes::uleb(std::uint64_t value) {
  do {
    std::uint8_t byte = value & 0x7f;
    value >>= 7;
    if (value != 0) byte |= 0x80;
    u8(byte);
  } while (value != 0);
}

void Bytes::sleb(std::int64_t value) {
  for (;;) {
    const std::uint8_t byte = value & 0x7f;
    value >>= 7;  // arithmetic: the sign stays
    const bool done = (value == 0 && (byte & 0x40) == 0) || (value == -1 && (byte & 0x40) != 0);
    u8(done ? byte : byte | 0x80);
    if (done) return;
  }
}

void Bytes::patch_u32(std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out_[offset + i] = static_cast<char>(value >> (8 * i));
}

void LineProgram::begin_sequence(std::uint64_t address) {
  program_.u8(0);  // extended opcode: length, then the opcode
  program_.uleb(9);
  program_.u8(DW_LNE_set_address);
  program_.u64(address);
  address_ = address;
}

void LineProgram::advance_to(std::uint64_t address) {
  if (address > address_) {
    program_.u8(DW_LNS_advance_pc);
    program_.uleb(address - address_);
    address_ = address;
  }
}

std::uint64_t LineProgram::row(std::uint64_t address, std::string_view file, std::int64_t line,
                               bool prologue_end) {
  if (file.empty()) file = "?";  // an empty name would end the file table early
  // Rows come in runs of one file, whose names are the same view: no hashing for those.
  if (file.data() != last_name_.data() || file.size() != last_name_.size()) {
    auto [found, added] = files_.try_emplace(file, files_.size() + 1);
    if (added) {
      file_table_.text(file);
      file_table_.uleb(0);  // directory: the name is the whole path
      file_table_.uleb(0);  // modification time, unknown
      file_table_.uleb(0);  // length, unknown
    }
    last_name_ = file;
    last_number_ = found->second;
  }
  if (last_number_ != file_) {
    program_.u8(DW_LNS_set_file);
    program_.uleb(last_number_);
    file_ = last_number_;
  }
  if (prologue_end) program_.u8(DW_LNS_set_prologue_end);
  const auto line_step = line - line_;
  const auto address_step = address >= address_ ? address - address_ : 0;
  if (line_step >= kLineBase && line_step < kLineBase + static_cast<std::int64_t>(kLineRange)) {
    const auto special =
        static_cast<std::uint64_t>(line_step - kLineBase) + kLineRange * address_step + kOpcodeBase;
    if (special <= 255) {
      program_.u8(static_cast<std::uint8_t>(special));
      address_ += address_step;
      line_ = line;
      return file_;
    }
  }
  if (line_step != 0) {
    program_.u8(DW_LNS_advance_line);
    program_.sleb(line_step);
    line_ = line;
  }
  advance_to(address);
  program_.u8(DW_LNS_copy);
  return file_;
}

void LineProgram::end_sequence(std::uint64_t end_address) {
  advance_to(end_address);
  program_.u8(0);
  program_.uleb(1);
  program_.u8(DW_LNE_end_sequence);
  address_ = 0;
  file_ = 1;
  line_ = 1;
}

std::string LineProgram::finish() {
  Bytes out;
  out.u32(0);  // unit_length, patched below
  out.u16(4);  // DWARF 4
  const auto header_length_at = out.size();
  out.u32(0);  // header_length, patched below
  out.u8(1);   // minimum_instruction_length
  out.u8(1);   // maximum_operations_per_instruction
  out.u8(1);   // default_is_stmt
  out.u8(static_cast<std::uint8_t>(kLineBase));
  out.u8(static_cast<std::uint8_t>(kLineRange));
  out.u8(kOpcodeBase);
  for (const auto length : kStandardOpcodeLengths) out.u8(length);
  out.u8(0);  // no include_directories
  out.append(file_table_.str());
  out.u8(0);  // end of file_names
  out.patch_u32(header_length_at, static_cast<std::uint32_t>(out.size() - header_length_at - 4));
  out.append(program_.str());
  out.patch_u32(0, static_cast<std::uint32_t>(out.size() - 4));
  program_.str().clear();
  program_.str().shrink_to_fit();
  return std::move(out.str());
}

FrameTable::FrameTable() {
  bytes_.u32(0);           // length, patched below
  bytes_.u32(0xffffffff);  // CIE id in .debug_frame
  bytes_.u8(1);            // version
  bytes_.text("");         // no augmentation
  bytes_.uleb(1);          // code alignment
  bytes_.sleb(-8);         // data alignment
  bytes_.u8(kDwarfReturnAddress);
  bytes_.u8(DW_CFA_def_cfa);  // CFA = rsp + 8 at entry, the return address just below it
  bytes_.uleb(kDwarfRsp);
  bytes_.uleb(8);
  bytes_.u8(DW_CFA_offset | kDwarfReturnAddress);
  bytes_.uleb(1);
  pad_to_8(bytes_, 0);
  bytes_.patch_u32(0, static_cast<std::uint32_t>(bytes_.size() - 4));
}

void FrameTable::begin(std::uint64_t entry, std::uint64_t end) {
  fde_start_ = bytes_.size();
  bytes_.u32(0);  // length, patched by end()
  bytes_.u32(0);  // the CIE, at offset 0
  bytes_.u64(entry);
  bytes_.u64(end - entry);
  location_ = entry;
}

void FrameTable::advance_to(std::uint64_t address) {
  if (address <= location_) return;
  const auto delta = address - location_;
  if (delta < 0x40) {
    bytes_.u8(static_cast<std::uint8_t>(DW_CFA_advance_loc | delta));
  } else if (delta <= 0xff) {
    bytes_.u8(DW_CFA_advance_loc1);
    bytes_.u8(static_cast<std::uint8_t>(delta));
  } else if (delta <= 0xffff) {
    bytes_.u8(DW_CFA_advance_loc2);
    bytes_.u16(static_cast<std::uint16_t>(delta));
  } else {
    bytes_.u8(DW_CFA_advance_loc4);
    bytes_.u32(static_cast<std::uint32_t>(delta));
  }
  location_ = address;
}

void FrameTable::cfa_offset(std::uint64_t offset) {
  bytes_.u8(DW_CFA_def_cfa_offset);
  bytes_.uleb(offset);
}

void FrameTable::rbp_saved_at_cfa_minus_16() {
  bytes_.u8(DW_CFA_offset | kDwarfRbp);
  bytes_.uleb(2);  // times the data alignment, -8
}

void FrameTable::rbp_restored() {
  bytes_.u8(DW_CFA_restore | kDwarfRbp);
}

void FrameTable::end() {
  pad_to_8(bytes_, fde_start_);
  bytes_.patch_u32(fde_start_, static_cast<std::uint32_t>(bytes_.size() - fde_start_ - 4));
}

CompileUnit::CompileUnit(std::string_view name, std::string_view producer, unsigned language,
                         std::uint32_t ranges, std::uint32_t line_program) {
  info_.u32(0);  // unit_length, patched by finish_info()
  info_.u16(4);
  info_.u32(0);  // its abbreviations, at offset 0
  info_.u8(8);   // address size
  info_.uleb(1);
  info_.text(name);
  info_.text(producer);
  info_.uleb(language);
  info_.u64(0);  // DW_AT_low_pc: the base address of the ranges
  info_.u32(ranges);
  info_.u32(line_program);  // DW_AT_stmt_list
}

void CompileUnit::subprogram(std::string_view name, std::uint64_t low, std::uint64_t high,
                             std::uint64_t file, std::uint64_t line) {
  info_.uleb(2);
  info_.text(name);
  info_.u64(low);
  info_.u64(high);
  info_.uleb(file);
  info_.uleb(line);
}

std::string CompileUnit::finish_info() {
  info_.u8(0);  // the unit's children end
  info_.patch_u32(0, static_cast<std::uint32_t>(info_.size() - 4));
  return std::move(info_.str());
}

std::string CompileUnit::abbreviations() {
  Bytes out;
  auto attribute = [&](unsigned name, unsigned form) {
    out.uleb(name);
    out.uleb(form);
  };
  out.uleb(1);
  out.uleb(DW_TAG_compile_unit);
  out.u8(DW_CHILDREN_yes);
  attribute(DW_AT_name, DW_FORM_string);
  attribute(DW_AT_producer, DW_FORM_string);
  attribute(DW_AT_language, DW_FORM_udata);
  attribute(DW_AT_low_pc, DW_FORM_addr);
  attribute(DW_AT_ranges, DW_FORM_sec_offset);
  attribute(DW_AT_stmt_list, DW_FORM_sec_offset);
  attribute(0, 0);
  out.uleb(2);
  out.uleb(DW_TAG_subprogram);
  out.u8(DW_CHILDREN_no);
  attribute(DW_AT_name, DW_FORM_string);
  attribute(DW_AT_low_pc, DW_FORM_addr);
  attribute(DW_AT_high_pc, DW_FORM_addr);
  attribute(DW_AT_decl_file, DW_FORM_udata);
  attribute(DW_AT_decl_line, DW_FORM_udata);
  attribute(DW_AT_external, DW_FORM_flag_present);
  attribute(0, 0);
  out.u8(0);  // end of the table
  return std::move(out.str());
}

}  // namespace gostub::symbols::dwarf
