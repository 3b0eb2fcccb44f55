#include "symbols/line_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "uvarint.hpp"

namespace gostub::symbols {

namespace {

constexpr std::uint32_t kMagic12 = 0xfffffffb;
constexpr std::uint32_t kMagic116 = 0xfffffffa;
constexpr std::uint32_t kMagic118 = 0xfffffff0;
constexpr std::uint32_t kMagic120 = 0xfffffff1;
constexpr std::uint32_t kNoFile = 0xffffffff;

std::span<const std::uint8_t> tail(std::span<const std::uint8_t> bytes, std::uint64_t offset) {
  return offset <= bytes.size() ? bytes.subspan(offset) : std::span<const std::uint8_t>{};
}

}  // namespace

std::string_view describe(PclntabVersion version) {
  switch (version) {
    case PclntabVersion::k12:
      return "go1.2-1.15";
    case PclntabVersion::k116:
      return "go1.16-1.17";
    case PclntabVersion::k118:
      return "go1.18-1.19";
    case PclntabVersion::k120:
      return "go1.20+";
  }
  return "?";
}

std::optional<std::uint32_t> LineTable::u32(std::span<const std::uint8_t> bytes,
                                            std::uint64_t offset) const {
  if (offset > bytes.size() || bytes.size() - offset < 4) return std::nullopt;
  std::uint32_t value;
  std::memcpy(&value, bytes.data() + offset, 4);  // x86-64: little-endian, as the table
  return value;
}

std::optional<std::uint64_t> LineTable::word(std::span<const std::uint8_t> bytes,
                                             std::uint64_t offset) const {
  if (pointer_size_ == 4) return u32(bytes, offset);
  if (offset > bytes.size() || bytes.size() - offset < 8) return std::nullopt;
  std::uint64_t value;
  std::memcpy(&value, bytes.data() + offset, 8);
  return value;
}

std::optional<std::uint64_t> LineTable::header_text_start(std::span<const std::uint8_t> data) {
  if (data.size() < 8 + 3 * 8) return std::nullopt;
  std::uint32_t magic;
  std::memcpy(&magic, data.data(), 4);
  if (magic != kMagic118 && magic != kMagic120) return std::nullopt;
  if (data[7] != 8) return std::nullopt;
  std::uint64_t value;
  std::memcpy(&value, data.data() + 8 + 2 * 8, 8);
  return value;
}

Result<LineTable> LineTable::parse(std::span<const std::uint8_t> data, std::uint64_t text_start) {
  if (data.size() < 16) return fail("pclntab: too short");
  std::uint32_t magic;
  std::memcpy(&magic, data.data(), 4);
  LineTable table;
  switch (magic) {
    case kMagic12:
      table.version_ = PclntabVersion::k12;
      break;
    case kMagic116:
      table.version_ = PclntabVersion::k116;
      break;
    case kMagic118:
      table.version_ = PclntabVersion::k118;
      break;
    case kMagic120:
      table.version_ = PclntabVersion::k120;
      break;
    default:
      return fail(fmt::format("pclntab: unknown magic {:#x}", magic));
  }
  if (data[4] != 0 || data[5] != 0 || (data[6] != 1 && data[6] != 2 && data[6] != 4) ||
      (data[7] != 4 && data[7] != 8)) {
    return fail("pclntab: bad header");
  }
  table.data_ = data;
  table.quantum_ = data[6];
  table.pointer_size_ = data[7];
  const auto header_word = [&](std::uint32_t index) {
    return table.word(data, 8 + index * table.pointer_size_);
  };
  const auto region = [&](std::uint32_t index) -> std::optional<std::span<const std::uint8_t>> {
    const auto offset = header_word(index);
    if (!offset || *offset > data.size()) return std::nullopt;
    return data.subspan(*offset);
  };

  std::uint32_t functab_field = table.pointer_size_;
  if (table.version_ == PclntabVersion::k12) {
    const auto count = header_word(0);
    if (!count) return fail("pclntab: truncated header");
    table.function_count_ = static_cast<std::uint32_t>(*count);
    table.function_names_ = data;
    table.pc_tables_ = data;
    table.function_data_ = data;
    table.function_table_ = tail(data, 8 + table.pointer_size_);
    const auto file_offset =
        table.u32(table.function_table_, (2ULL * table.function_count_ + 1) * table.pointer_size_);
    if (!file_offset) return fail("pclntab: truncated function table");
    table.file_table_ = tail(data, *file_offset);
    const auto files = table.u32(table.file_table_, 0);
    // Slot 0 holds the number of slots; a count the table cannot hold is corruption.
    if (!files || *files > table.file_table_.size() / 4) return fail("pclntab: bad file table");
    table.file_count_ = *files;
    table.text_start_ = 0;
  } else {
    const bool has_text_start = table.version_ != PclntabVersion::k116;
    const std::uint32_t first = has_text_start ? 3 : 2;  // index of the funcname table offset
    const auto count = header_word(0);
    const auto files = header_word(1);
    auto names = region(first), units = region(first + 1), file_names = region(first + 2),
         pcs = region(first + 3), functions = region(first + 4);
    if (!count || !files || !names || !units || !file_names || !pcs || !functions) {
      return fail("pclntab: truncated header");
    }
    table.function_count_ = static_cast<std::uint32_t>(*count);
    table.file_count_ = static_cast<std::uint32_t>(*files);
    table.function_names_ = *names;
    table.compile_units_ = *units;
    table.file_table_ = *file_names;
    table.pc_tables_ = *pcs;
    table.function_data_ = *functions;
    table.function_table_ = *functions;
    if (has_text_start) {
      functab_field = 4;
      table.text_start_ = text_start;
    }
  }
  const auto functab_size = (2ULL * table.function_count_ + 1) * functab_field;
  if (table.function_table_.size() < functab_size) return fail("pclntab: truncated function table");
  table.function_table_ = table.function_table_.first(functab_size);
  return table;
}

std::optional<std::uint64_t> LineTable::functab_pc(std::uint32_t slot) const {
  // Entry pcs sit at even slots: (pc, funcoff) pairs, then the end pc of the last function.
  if (version_ >= PclntabVersion::k118) {
    const auto offset = u32(function_table_, 4ULL * slot);
    if (!offset) return std::nullopt;
    return text_start_ + *offset;
  }
  return word(function_table_, static_cast<std::uint64_t>(slot) * pointer_size_);
}

std::optional<std::uint64_t> LineTable::func_offset(std::uint32_t index) const {
  const auto slot = 2ULL * index + 1;
  if (version_ >= PclntabVersion::k118) return u32(function_table_, 4 * slot);
  return word(function_table_, slot * pointer_size_);
}

std::optional<std::uint32_t> LineTable::field(std::uint32_t index, Field which) const {
  const auto offset = func_offset(index);
  if (!offset) return std::nullopt;
  const std::uint64_t first = version_ >= PclntabVersion::k118 ? 4 : pointer_size_;
  return u32(function_data_, *offset + first + (which - 1) * 4ULL);
}

std::optional<LineTable::Function> LineTable::function(std::uint32_t index) const {
  if (index >= function_count_) return std::nullopt;
  const auto entry = functab_pc(2 * index);
  const auto end = functab_pc(2 * index + 2);
  if (!entry || !end) return std::nullopt;
  return Function{*entry, *end, index};
}

std::optional<LineTable::Function> LineTable::find(std::uint64_t pc) const {
  std::uint32_t low = 0, high = function_count_;
  while (low < high) {
    const auto middle = low + (high - low) / 2;
    const auto candidate = function(middle);
    if (!candidate) return std::nullopt;
    if (pc < candidate->entry) {
      high = middle;
    } else if (pc >= candidate->end) {
      low = middle + 1;
    } else {
      return candidate;
    }
  }
  return std::nullopt;
}

std::string_view LineTable::c_string(std::span<const std::uint8_t> bytes,
                                     std::uint64_t offset) const {
  if (offset >= bytes.size()) return {};
  const auto* start = reinterpret_cast<const char*>(bytes.data() + offset);
  const auto* end = static_cast<const char*>(std::memchr(start, 0, bytes.size() - offset));
  if (end == nullptr) return {};
  return std::string_view(start, static_cast<std::size_t>(end - start));
}

std::string_view LineTable::name(const Function& function) const {
  const auto offset = field(function.index, kNameOffset);
  return offset ? c_string(function_names_, *offset) : std::string_view{};
}

std::optional<LineTable::Function> LineTable::find_by_name(std::string_view wanted) const {
  if (by_name_.empty()) {
    by_name_.reserve(function_count_);
    for (std::uint32_t i = 0; i < function_count_; ++i) {
      if (const auto f = function(i)) by_name_.emplace(name(*f), i);
    }
  }
  const auto found = by_name_.find(wanted);
  if (found == by_name_.end()) return std::nullopt;
  return function(found->second);
}

template <typename Visit>
void LineTable::walk(std::uint32_t table, std::uint64_t entry, Visit visit) const {
  if (table == 0 || table >= pc_tables_.size()) return;
  const auto bytes = pc_tables_.subspan(table);
  std::size_t at = 0;
  std::int32_t value = -1;
  std::uint64_t pc = entry;
  for (bool first = true;; first = false) {
    // pc-value entries are 32-bit, as the runtime reads them.
    const auto value_varint = read_uvarint(bytes, at);
    if (!value_varint || (*value_varint == 0 && !first)) return;
    const auto pc_varint = read_uvarint(bytes, at);
    if (!pc_varint) return;
    const auto value_delta = static_cast<std::uint32_t>(*value_varint);
    // zig-zag: the low bit is the sign
    const auto delta = (value_delta & 1) ? ~(value_delta >> 1) : (value_delta >> 1);
    // int32 arithmetic wraps in Go, as the runtime reads the table; in C++ only unsigned does.
    value = static_cast<std::int32_t>(static_cast<std::uint32_t>(value) + delta);
    const auto start = pc;
    pc += static_cast<std::uint64_t>(static_cast<std::uint32_t>(*pc_varint)) * quantum_;
    if (!visit(start, pc, value)) return;
  }
}

std::optional<std::int32_t> LineTable::pc_value(std::uint32_t table, std::uint64_t entry,
                                                std::uint64_t target) const {
  std::optional<std::int32_t> found;
  walk(table, entry, [&](std::uint64_t, std::uint64_t end, std::int32_t value) {
    if (target < end) {
      found = value;
      return false;
    }
    return true;
  });
  return found;
}

std::string_view LineTable::file_name(std::uint32_t index, std::int32_t file_number) const {
  if (version_ == PclntabVersion::k12) {
    if (file_number <= 0 || static_cast<std::uint32_t>(file_number) >= file_count_) return {};
    const auto offset = u32(file_table_, 4ULL * static_cast<std::uint32_t>(file_number));
    return offset ? c_string(data_, *offset) : std::string_view{};
  }
  if (file_number < 0) return {};
  const auto unit = field(index, kCuOffset);
  if (!unit) return {};
  const auto offset = u32(compile_units_, 4ULL * (static_cast<std::uint64_t>(*unit) +
                                                  static_cast<std::uint32_t>(file_number)));
  if (!offset || *offset == kNoFile) return {};
  return c_string(file_table_, *offset);
}

std::optional<SourceLine> LineTable::source_line(std::uint64_t pc) const {
  const auto function = find(pc);
  if (!function) return std::nullopt;
  const auto file_table = field(function->index, kPcfile);
  const auto line_table = field(function->index, kPcln);
  if (!file_table || !line_table) return std::nullopt;
  const auto file_number = pc_value(*file_table, function->entry, pc);
  const auto line = pc_value(*line_table, function->entry, pc);
  if (!file_number || !line) return std::nullopt;
  const auto file = file_name(function->index, *file_number);
  if (file.empty()) return std::nullopt;
  return SourceLine{file, *line};
}

std::optional<std::int32_t> LineTable::stack_delta(std::uint64_t pc) const {
  const auto function = find(pc);
  if (!function) return std::nullopt;
  const auto table = field(function->index, kPcsp);
  if (!table) return std::nullopt;
  return pc_value(*table, function->entry, pc);
}

std::vector<LineTable::StackRun> LineTable::stack_runs(const Function& function) const {
  std::vector<StackRun> out;
  const auto table = field(function.index, kPcsp);
  if (!table) return out;
  walk(*table, function.entry, [&](std::uint64_t start, std::uint64_t, std::int32_t delta) {
    if (start >= function.end) return false;
    if (out.empty() || out.back().delta != delta) out.push_back({start, delta});
    return true;
  });
  return out;
}

std::vector<LineTable::LineRow> LineTable::rows(const Function& function) const {
  std::vector<LineRow> out;
  const auto file_table = field(function.index, kPcfile);
  const auto line_table = field(function.index, kPcln);
  if (!file_table || !line_table) return out;
  // Rows start wherever either the file or the line changes: both tables are walked once,
  // side by side (a pc-value lookup per row walks its table from the entry).
  struct Run {
    std::uint64_t end;
    std::int32_t value;
  };
  std::vector<Run> line_runs, file_runs;
  std::uint64_t covered = function.entry;  // where the line table stops
  walk(*line_table, function.entry, [&](std::uint64_t, std::uint64_t end, std::int32_t value) {
    line_runs.push_back({end, value});
    covered = end;
    return true;
  });
  walk(*file_table, function.entry, [&](std::uint64_t, std::uint64_t end, std::int32_t value) {
    file_runs.push_back({end, value});
    return true;
  });
  std::size_t in_line = 0, in_file = 0;
  std::size_t named = file_runs.size();  // the file run whose name `file` is
  std::string_view file;
  for (std::uint64_t pc = function.entry; pc < function.end;) {
    while (in_line < line_runs.size() && line_runs[in_line].end <= pc) ++in_line;
    while (in_file < file_runs.size() && file_runs[in_file].end <= pc) ++in_file;
    if (in_line == line_runs.size() || in_file == file_runs.size()) break;
    if (named != in_file) {  // a name costs a strlen: once per file run, not per line run
      file = file_name(function.index, file_runs[in_file].value);
      named = in_file;
    }
    const SourceLine here{file, line_runs[in_line].value};
    if (out.empty() || out.back().line.line != here.line || out.back().line.file != here.file) {
      out.push_back({pc, here});
    }
    pc = std::min(line_runs[in_line].end, file_runs[in_file].end);
  }
  // Alignment padding after the code has no line: say so, as debug/gosym does (line -1).
  if (covered < function.end) out.push_back({covered, SourceLine{{}, -1}});
  return out;
}

std::vector<std::uint64_t> LineTable::pcs_for_line(std::string_view file, int line) const {
  std::vector<std::uint64_t> pcs;
  for (std::uint32_t i = 0; i < function_count_; ++i) {
    const auto f = function(i);
    if (!f) continue;
    for (const auto& row : rows(*f)) {
      if (row.line.line == line && row.line.file == file) pcs.push_back(row.pc);
    }
  }
  return pcs;
}

std::uint64_t LineTable::func_record_size() const {
  switch (version_) {
    case PclntabVersion::k12:
      return pointer_size_ + 7 * 4 + 4;  // … npcdata, funcID, _, nfuncdata
    case PclntabVersion::k116:
      return pointer_size_ + 8 * 4 + 4;  // + cuOffset
    case PclntabVersion::k118:
      return 4 + 8 * 4 + 4;  // entry is a 32-bit offset
    case PclntabVersion::k120:
      return 4 + 9 * 4 + 4;  // + startLine
  }
  return 0;
}

std::optional<std::uint32_t> LineTable::pcdata_table(const Function& function,
                                                     std::uint32_t n) const {
  const auto count = field(function.index, kNumPcdata);
  const auto offset = func_offset(function.index);
  if (!count || !offset || n >= *count) return std::nullopt;
  const auto table = u32(function_data_, *offset + func_record_size() + 4ULL * n);
  if (!table || *table == 0) return std::nullopt;
  return table;
}

std::optional<std::int32_t> LineTable::pcdata_value(const Function& function, std::uint32_t table,
                                                    std::uint64_t pc) const {
  return pc_value(table, function.entry, pc);
}

std::optional<std::uint64_t> LineTable::funcdata(const Function& function, std::uint32_t n) const {
  const auto offset = func_offset(function.index);
  const auto count = field(function.index, kNumPcdata);
  if (!offset || !count) return std::nullopt;
  const auto record = *offset + func_record_size();
  if (record == 0 || record > function_data_.size()) return std::nullopt;
  const std::uint32_t funcdata_count = function_data_[record - 1];
  if (n >= funcdata_count) return std::nullopt;
  const auto slots = record + 4ULL * *count;
  if (version_ >= PclntabVersion::k118) {
    const auto value = u32(function_data_, slots + 4ULL * n);
    if (!value || *value == 0xffffffff) return std::nullopt;
    return *value;
  }
  const auto aligned = (slots + pointer_size_ - 1) / pointer_size_ * pointer_size_;
  const auto value = word(function_data_, aligned + static_cast<std::uint64_t>(pointer_size_) * n);
  if (!value || *value == 0) return std::nullopt;
  return value;
}

std::vector<std::string_view> LineTable::files() const {
  std::vector<std::string_view> out;
  if (version_ == PclntabVersion::k12) {
    for (std::uint32_t i = 1; i < file_count_; ++i)
      out.push_back(file_name(0, static_cast<std::int32_t>(i)));
    return out;
  }
  // 1.16+: the file table is the names back to back.
  std::uint64_t offset = 0;
  for (std::uint32_t i = 0; i < file_count_; ++i) {
    const auto name = c_string(file_table_, offset);
    if (name.empty() && offset >= file_table_.size()) break;
    out.push_back(name);
    offset += name.size() + 1;
  }
  return out;
}

}  // namespace gostub::symbols
