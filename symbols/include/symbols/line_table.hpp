// Go's pclntab: the function table and the pc-value tables (file, line, stack pointer delta)
// that every Go binary keeps, stripped or not. All four layouts Go has shipped are read:
// 1.2-1.15, 1.16-1.17, 1.18-1.19 and 1.20+ (golang.org/s/go12symtab and its successors).
//
// The table is read in place from the mapped binary; lookups binary-search the function table
// itself, so indexing costs no memory beyond the optional name index. Every read is
// bounds-checked: a malformed table yields errors or empty answers, never a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "symbols/error.hpp"

namespace gostub::symbols {

enum class PclntabVersion : std::uint8_t { k12, k116, k118, k120 };
std::string_view describe(PclntabVersion version);  // "go1.2-1.15", …

struct SourceLine {
  std::string_view file;
  int line;
};

class LineTable {
 public:
  // `data` starts at the table's header and may run past its end. `text_start` is where the
  // Go code begins (runtime.text); Go 1.18+ entries are offsets from it.
  static Result<LineTable> parse(std::span<const std::uint8_t> data, std::uint64_t text_start);
  // The text start recorded in the header (1.18+; 0 elsewhere, or when a PIE left it to a
  // relocation).
  static std::optional<std::uint64_t> header_text_start(std::span<const std::uint8_t> data);

  struct Function {
    std::uint64_t entry;
    std::uint64_t end;
    std::uint32_t index;
  };

  PclntabVersion version() const { return version_; }
  std::uint32_t function_count() const { return function_count_; }
  std::uint32_t file_count() const { return file_count_; }
  std::uint64_t text_start() const { return text_start_; }

  std::optional<Function> function(std::uint32_t index) const;
  // The function containing pc: O(log n).
  std::optional<Function> find(std::uint64_t pc) const;
  std::string_view name(const Function& function) const;
  std::optional<Function> find_by_name(std::string_view name) const;

  std::optional<SourceLine> source_line(std::uint64_t pc) const;
  // The stack pointer's offset from its value at function entry (pcsp), so that a frame can be
  // unwound without DWARF.
  std::optional<std::int32_t> stack_delta(std::uint64_t pc) const;
  // The same for a whole function at once: where each run of one stack delta starts.
  struct StackRun {
    std::uint64_t pc;
    std::int32_t delta;
  };
  std::vector<StackRun> stack_runs(const Function& function) const;
  // Where each run of instructions with one file:line starts, in address order.
  struct LineRow {
    std::uint64_t pc;
    SourceLine line;
  };
  std::vector<LineRow> rows(const Function& function) const;
  // Every pc where a statement of file:line starts (the start of each run that maps to it).
  std::vector<std::uint64_t> pcs_for_line(std::string_view file, int line) const;
  // Every file name the table knows.
  std::vector<std::string_view> files() const;

  // Raw access for what lives outside the table (the inline tree): the offset of pc-value
  // table `n` (PCDATA_n) of a function, a value from such a table, funcdata slot `n` (an
  // offset from moduledata.gofunc for Go 1.18+, an address before), and a name by offset.
  std::optional<std::uint32_t> pcdata_table(const Function& function, std::uint32_t n) const;
  std::optional<std::int32_t> pcdata_value(const Function& function, std::uint32_t table,
                                           std::uint64_t pc) const;
  std::optional<std::uint64_t> funcdata(const Function& function, std::uint32_t n) const;
  bool funcdata_relative_to_gofunc() const { return version_ >= PclntabVersion::k118; }
  std::string_view name_at(std::uint32_t offset) const { return c_string(function_names_, offset); }
  // Offsets of the function name table and of the table itself from the table's start: what
  // moduledata.funcnametab points to.
  std::uint64_t function_names_offset() const {
    return static_cast<std::uint64_t>(function_names_.data() - data_.data());
  }

 private:
  enum Field : std::uint32_t {
    kNameOffset = 1,
    kPcsp = 4,
    kPcfile = 5,
    kPcln = 6,
    kNumPcdata = 7,
    kCuOffset = 8
  };
  // Size of the fixed part of a _func record, whose last byte is nfuncdata.
  std::uint64_t func_record_size() const;

  std::optional<std::uint64_t> word(std::span<const std::uint8_t> bytes,
                                    std::uint64_t offset) const;
  std::optional<std::uint32_t> u32(std::span<const std::uint8_t> bytes, std::uint64_t offset) const;
  std::optional<std::uint64_t> functab_pc(std::uint32_t slot) const;
  std::optional<std::uint64_t> func_offset(std::uint32_t index) const;
  std::optional<std::uint32_t> field(std::uint32_t index, Field field) const;
  std::optional<std::int32_t> pc_value(std::uint32_t table, std::uint64_t entry,
                                       std::uint64_t target) const;
  std::string_view file_name(std::uint32_t index, std::int32_t file_number) const;
  std::string_view c_string(std::span<const std::uint8_t> bytes, std::uint64_t offset) const;

  // Walks a pc-value table: visit(start_pc, end_pc, value) for each run; stops when visit
  // returns false.
  template <typename Visit>
  void walk(std::uint32_t table, std::uint64_t entry, Visit visit) const;

  std::span<const std::uint8_t> data_;
  PclntabVersion version_ = PclntabVersion::k120;
  std::uint8_t quantum_ = 1;
  std::uint8_t pointer_size_ = 8;
  std::uint32_t function_count_ = 0;
  std::uint32_t file_count_ = 0;
  std::uint64_t text_start_ = 0;
  std::span<const std::uint8_t> function_names_, compile_units_, file_table_, pc_tables_,
      function_data_, function_table_;
  mutable std::unordered_map<std::string_view, std::uint32_t> by_name_;  // built on first use
};

}  // namespace gostub::symbols
