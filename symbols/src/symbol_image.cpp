#include "symbols/symbol_image.hpp"

#include <capstone/capstone.h>
#include <dwarf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gelf.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "dwarf_writer.hpp"

namespace gostub::symbols {

namespace {

Error failure(std::string message) {
  return Error{std::move(message)};
}

// Where the function's body starts: after the stack check and the frame pointer's setup
// (`mov rbp, rsp`, or `lea rbp, [rsp+N]` before Go 1.21). Go's own DWARF starts a second row
// of the first line there, and clients break there: past the check, a breakpoint is not hit
// twice when morestack restarts the function. 0 when there is no frame pointer to set up.
class PrologueFinder {
 public:
  PrologueFinder() {
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle_) != CS_ERR_OK) handle_ = 0;
  }
  ~PrologueFinder() {
    if (handle_ != 0) cs_close(&handle_);
  }
  PrologueFinder(const PrologueFinder&) = delete;
  PrologueFinder& operator=(const PrologueFinder&) = delete;

  std::uint64_t body_start(const ElfImage& image, const LineTable::Function& function) const {
    constexpr std::uint64_t kPrologueScan = 48;
    const auto code =
        image.at_address(function.entry, std::min(function.end - function.entry, kPrologueScan));
    if (handle_ == 0 || code.empty()) return 0;
    cs_insn* instructions = nullptr;
    const auto count =
        cs_disasm(handle_, code.data(), code.size(), function.entry, 0, &instructions);
    std::uint64_t found = 0;
    for (std::size_t i = 0; i + 1 < count && found == 0; ++i) {
      const std::string_view mnemonic = instructions[i].mnemonic;
      const std::string_view operands = instructions[i].op_str;
      if ((mnemonic == "mov" && operands == "rbp, rsp") ||
          (mnemonic == "lea" && operands.starts_with("rbp, [rsp"))) {
        found = instructions[i + 1].address;
      }
    }
    cs_free(instructions, count);
    return found;
  }

 private:
  csh handle_ = 0;
};

struct DwarfInput {
  std::vector<LineTable::Function> functions;  // in address order, as pclntab lists them
};

// A section to append: its name and bytes, and what its header needs.
struct NewSection {
  std::string name;
  std::uint32_t type;
  std::string bytes;
  std::uint64_t entry_size = 0, align = 1;
  std::uint32_t link = 0, info = 0;
};

// A debug section compressed as gdb and lldb read it (SHF_COMPRESSED, zlib): a fifth to a
// third of the bytes a client fetches through the server and the server holds. nullopt when
// zlib fails (the section is then written as it is).
std::optional<std::string> compress_section(std::string_view bytes, std::uint64_t align) {
  Elf64_Chdr header{};
  header.ch_type = ELFCOMPRESS_ZLIB;
  header.ch_size = bytes.size();
  header.ch_addralign = align;
  auto bound = ::compressBound(static_cast<uLong>(bytes.size()));
  std::string out(sizeof header + bound, '\0');
  std::memcpy(out.data(), &header, sizeof header);
  if (::compress2(reinterpret_cast<Bytef*>(out.data() + sizeof header), &bound,
                  reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uLong>(bytes.size()),
                  Z_BEST_SPEED) != Z_OK) {
    return std::nullopt;
  }
  out.resize(sizeof header + bound);
  return out;
}

// Two compile units, Go and assembly: gdb gives every file of a unit the language of its
// assembly files once it has seen one (and then ignores prologue_end, as for hand-written code).
enum Unit : std::uint8_t { kGoUnit, kAssemblyUnit, kUnits };

// Where each function is declared (its first row): its unit, and the file's number in that
// unit's line program, and the line.
struct Declaration {
  Unit unit = kGoUnit;
  std::uint32_t file = 0, line = 0;
};

struct LineSections {
  std::string bytes;                            // every unit's line program, one after another
  std::array<std::uint32_t, kUnits> offsets{};  // where each unit's starts
};

bool is_assembly(std::string_view file) {
  return file.ends_with(".s") || file.ends_with(".S");
}

// .debug_line: pclntab's rows, one sequence per function; the first line again, marked
// prologue_end, where the body starts (gdb breaks there, as with Go's own DWARF).
LineSections line_section(const ElfImage& image, const LineTable& lines, const DwarfInput& input,
                          std::vector<Declaration>& declarations, SymbolImageStats& stats) {
  const PrologueFinder prologues;
  std::array<dwarf::LineProgram, kUnits> programs;
  declarations.assign(input.functions.size(), {});
  for (std::size_t i = 0; i < input.functions.size(); ++i) {
    const auto& function = input.functions[i];
    auto rows = lines.rows(function);
    if (rows.empty()) continue;
    const auto body = prologues.body_start(image, function);
    if (body != 0) {
      const auto at =
          std::lower_bound(rows.begin(), rows.end(), body,
                           [](const auto& row, std::uint64_t pc) { return row.pc < pc; });
      if (at != rows.begin() && (at == rows.end() || at->pc != body)) {
        rows.insert(at, LineTable::LineRow{body, std::prev(at)->line});
      }
    }
    auto& declaration = declarations[i];
    declaration.unit = is_assembly(rows.front().line.file) ? kAssemblyUnit : kGoUnit;
    auto& program = programs[declaration.unit];
    program.begin_sequence(function.entry);
    for (const auto& row : rows) {
      if (row.line.line < 0) continue;  // alignment padding: the sequence's end covers it
      const auto file = program.row(row.pc, row.line.file, row.line.line, row.pc == body);
      if (declaration.file == 0) {
        declaration.file = static_cast<std::uint32_t>(file);
        declaration.line = static_cast<std::uint32_t>(row.line.line);
      }
      ++stats.line_rows;
    }
    program.end_sequence(function.end);
  }
  LineSections out;
  for (int unit = 0; unit < kUnits; ++unit) {
    stats.files += static_cast<std::uint32_t>(programs[unit].file_count());
    out.offsets[unit] = static_cast<std::uint32_t>(out.bytes.size());
    out.bytes += programs[unit].finish();
  }
  return out;
}

// .debug_frame from pcsp: CFA = rsp + 8 + delta; once the frame exists, the caller's rbp is
// saved just below the return address (Go keeps frame pointers).
std::string frame_section(const LineTable& lines, const DwarfInput& input) {
  dwarf::FrameTable frames;
  for (const auto& function : input.functions) {
    frames.begin(function.entry, function.end);
    std::uint64_t at = function.entry;
    bool rbp_saved = false;
    for (const auto& run : lines.stack_runs(function)) {
      if (run.pc < at) continue;
      frames.advance_to(run.pc);
      at = run.pc;
      if (run.delta < 0) continue;
      frames.cfa_offset(static_cast<std::uint64_t>(run.delta) + 8);
      if (run.delta >= 8 && !rbp_saved) {
        frames.rbp_saved_at_cfa_minus_16();
        rbp_saved = true;
      } else if (run.delta == 0 && rbp_saved) {
        frames.rbp_restored();
        rbp_saved = false;
      }
    }
    frames.end();
  }
  return frames.finish();
}

// .debug_info: a compile unit for Go and one for assembly (pclntab has no per-package units
// worth keeping), a subprogram per function so that clients list and name them as functions;
// and .debug_ranges, where each unit's functions are (their runs in address order): clients
// find a pc's unit by them, so the two units must not overlap.
std::pair<std::string, std::string> info_and_ranges(
    const LineTable& lines, const DwarfInput& input, const std::vector<Declaration>& declarations,
    const std::array<std::uint32_t, kUnits>& line_offsets) {
  std::string info;
  dwarf::Bytes ranges;
  for (const auto unit : {kGoUnit, kAssemblyUnit}) {
    const auto ranges_offset = static_cast<std::uint32_t>(ranges.size());
    std::optional<std::pair<std::uint64_t, std::uint64_t>> run;  // functions in a row
    const auto close_run = [&] {
      if (!run) return;
      ranges.u64(run->first);
      ranges.u64(run->second);
      run.reset();
    };
    for (std::size_t i = 0; i < input.functions.size(); ++i) {
      const auto& function = input.functions[i];
      if (declarations[i].unit != unit) {
        close_run();
      } else if (run) {
        run->second = function.end;
      } else {
        run.emplace(function.entry, function.end);
      }
    }
    close_run();
    ranges.u64(0);  // the list's end
    ranges.u64(0);
    dwarf::CompileUnit compile_unit(unit == kGoUnit ? "go (from pclntab)" : "asm (from pclntab)",
                                    "gostub symbols (from pclntab)",
                                    unit == kGoUnit ? DW_LANG_Go : DW_LANG_Mips_Assembler,
                                    ranges_offset, line_offsets[unit]);
    for (std::size_t i = 0; i < input.functions.size(); ++i) {
      if (declarations[i].unit != unit) continue;
      const auto& function = input.functions[i];
      compile_unit.subprogram(lines.name(function), function.entry, function.end,
                              declarations[i].file, declarations[i].line);
    }
    info += compile_unit.finish_info();
  }
  return {std::move(info), std::move(ranges.str())};
}

// .symtab and .strtab: every function, global, in the executable section that holds it.
std::pair<std::string, std::string> symbol_sections(
    const LineTable& lines, const DwarfInput& input,
    const std::map<std::uint64_t, std::size_t>& section_by_address) {
  std::string strings(1, '\0');
  std::string symbols(sizeof(Elf64_Sym), '\0');  // the null symbol
  for (const auto& function : input.functions) {
    auto section = section_by_address.upper_bound(function.entry);
    if (section == section_by_address.begin()) continue;
    --section;
    Elf64_Sym symbol{};
    symbol.st_name = static_cast<Elf64_Word>(strings.size());
    strings += lines.name(function);
    strings.push_back('\0');
    symbol.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
    symbol.st_shndx = static_cast<Elf64_Section>(section->second);
    symbol.st_value = function.entry;
    symbol.st_size = function.end - function.entry;
    symbols.append(reinterpret_cast<const char*>(&symbol), sizeof symbol);
  }
  return {std::move(symbols), std::move(strings)};
}

// Copies the input file whole, in the kernel (its pages need not pass through this process).
bool copy_file(int in_fd, int out_fd, std::uint64_t size) {
  loff_t in_offset = 0, out_offset = 0;
  while (static_cast<std::uint64_t>(in_offset) < size) {
    const auto copied = ::copy_file_range(in_fd, &in_offset, out_fd, &out_offset,
                                          size - static_cast<std::uint64_t>(in_offset), 0);
    if (copied > 0) continue;
    if (copied < 0 && errno == EINTR) continue;
    if (copied == 0) return false;
    // Not supported between these files: copy through a buffer.
    std::vector<char> buffer(1 << 20);
    while (static_cast<std::uint64_t>(in_offset) < size) {
      const auto got = ::pread(in_fd, buffer.data(), buffer.size(), in_offset);
      if (got <= 0) return false;
      if (::pwrite(out_fd, buffer.data(), static_cast<std::size_t>(got), out_offset) != got) {
        return false;
      }
      in_offset += got;
      out_offset += got;
    }
  }
  return true;
}

// Where the image goes: a whole file (the input copied, then the tail), or only the tail, in
// a file of its own (the header then goes to `header`, the input stays where it is).
struct Destination {
  int fd;
  bool whole;
  std::string* header = nullptr;
  std::uint64_t tail_start = 0;  // the input's size: where the tail begins in the image
};

Result<SymbolImageStats> write_image(const GoBinary& binary, Destination& out,
                                     const std::string& output_name) {
  const auto& image = binary.image();
  if (image.has_symbol_table() || image.has_dwarf()) {
    return std::unexpected(failure(
        fmt::format("{} has a symbol table or DWARF already: it needs nothing", image.path())));
  }
  const auto& lines = binary.lines();
  SymbolImageStats stats;
  DwarfInput input;
  for (std::uint32_t i = 0; i < lines.function_count(); ++i) {
    const auto function = lines.function(i);
    if (!function || function->end <= function->entry) continue;
    input.functions.push_back(*function);
  }
  if (input.functions.empty()) return std::unexpected(failure("pclntab lists no functions"));
  stats.functions = static_cast<std::uint32_t>(input.functions.size());

  // The image is the input, byte for byte (loaded bytes stay where the program headers say),
  // then the new sections, the grown section-name table and a new section header table, to
  // which the ELF header is pointed. libelf reads the input's headers; the output is written
  // here, so that neither the input's pages nor the output pass through memory.
  elf_version(EV_CURRENT);
  const int in_fd = ::open(image.path().c_str(), O_RDONLY | O_CLOEXEC);
  if (in_fd < 0) {
    return std::unexpected(failure(fmt::format("{}: {}", image.path(), strerror(errno))));
  }
  Elf* source = elf_begin(in_fd, ELF_C_READ, nullptr);
  const auto finish = [&](std::optional<Error> error) -> Result<SymbolImageStats> {
    if (source != nullptr) elf_end(source);
    ::close(in_fd);
    if (error) return std::unexpected(*error);
    return stats;
  };
  const auto elf_failure = [](const char* what) {
    return failure(fmt::format("libelf: {}: {}", what, elf_errmsg(-1)));
  };
  Elf64_Ehdr* header = source != nullptr ? elf64_getehdr(source) : nullptr;
  if (header == nullptr) return finish(elf_failure("reading the ELF header"));
  std::size_t names_index = 0;
  if (elf_getshdrstrndx(source, &names_index) != 0) {
    return finish(elf_failure("the section-name table"));
  }
  std::vector<Elf64_Shdr> section_headers;
  std::string section_names;
  std::map<std::uint64_t, std::size_t> section_by_address;  // executable sections, for symbols
  section_headers.push_back(Elf64_Shdr{});                  // the null section
  for (Elf_Scn* scn = elf_nextscn(source, nullptr); scn != nullptr;
       scn = elf_nextscn(source, scn)) {
    const Elf64_Shdr* shdr = elf64_getshdr(scn);
    if (shdr == nullptr) return finish(elf_failure("a section header"));
    if (elf_ndxscn(scn) == names_index) {
      if (Elf_Data* data = elf_rawdata(scn, nullptr); data != nullptr) {
        section_names.assign(static_cast<const char*>(data->d_buf), data->d_size);
      }
    }
    if ((shdr->sh_flags & SHF_EXECINSTR) != 0) section_by_address[shdr->sh_addr] = elf_ndxscn(scn);
    section_headers.push_back(*shdr);
  }
  if (names_index == 0 || names_index >= section_headers.size()) {
    return finish(failure("the input has no section-name table"));
  }
  struct stat input_stat {};
  if (::fstat(in_fd, &input_stat) != 0) {
    return finish(failure(fmt::format("{}: {}", image.path(), strerror(errno))));
  }
  out.tail_start = static_cast<std::uint64_t>(input_stat.st_size);
  if (out.whole && !copy_file(in_fd, out.fd, out.tail_start)) {
    return finish(failure(fmt::format("copying {}: {}", image.path(), strerror(errno))));
  }
  std::uint64_t end = out.tail_start;
  const auto write_at = [&](const void* bytes, std::size_t size, std::uint64_t at) {
    const auto offset = static_cast<off_t>(out.whole ? at : at - out.tail_start);
    return ::pwrite(out.fd, bytes, size, offset) == static_cast<ssize_t>(size);
  };
  const auto append = [&](std::string_view bytes, std::uint64_t align) -> std::optional<Error> {
    const auto aligned = (end + align - 1) / align * align;
    if (aligned > end && !write_at(std::string(aligned - end, '\0').data(), aligned - end, end)) {
      return failure(fmt::format("{}: {}", output_name, strerror(errno)));
    }
    end = aligned;
    if (!write_at(bytes.data(), bytes.size(), end)) {
      return failure(fmt::format("{}: {}", output_name, strerror(errno)));
    }
    end += bytes.size();
    return std::nullopt;
  };
  // Each section is made, written and dropped in turn: one at a time is in memory.
  const auto first_new = section_headers.size();  // .symtab's index; .strtab follows it
  const auto write_section = [&](NewSection section) -> std::optional<Error> {
    Elf64_Shdr shdr{};
    shdr.sh_name = static_cast<Elf64_Word>(section_names.size());
    section_names += section.name;
    section_names.push_back('\0');
    if (section.name.starts_with(".debug_")) {
      if (auto compressed = compress_section(section.bytes, section.align);
          compressed && compressed->size() < section.bytes.size()) {
        section.bytes = std::move(*compressed);
        section.align = alignof(Elf64_Chdr);
        shdr.sh_flags = SHF_COMPRESSED;
      }
    }
    if (auto error = append(section.bytes, section.align)) return error;
    shdr.sh_type = section.type;
    shdr.sh_offset = end - section.bytes.size();
    shdr.sh_size = section.bytes.size();
    shdr.sh_addralign = section.align;
    shdr.sh_entsize = section.entry_size;
    shdr.sh_link = section.link;
    shdr.sh_info = section.info;
    section_headers.push_back(shdr);
    return std::nullopt;
  };
  auto [symbols, strings] = symbol_sections(lines, input, section_by_address);
  std::optional<Error> error =
      write_section({".symtab", SHT_SYMTAB, std::move(symbols), sizeof(Elf64_Sym), 8,
                     static_cast<std::uint32_t>(first_new + 1), 1});
  if (!error) error = write_section({".strtab", SHT_STRTAB, std::move(strings)});
  // The line program first: the subprograms name their files by its numbers.
  std::vector<Declaration> declarations;
  auto line_sections = line_section(image, lines, input, declarations, stats);
  if (!error) {
    error = write_section({".debug_abbrev", SHT_PROGBITS, dwarf::CompileUnit::abbreviations()});
  }
  if (!error) {
    auto [info, ranges] = info_and_ranges(lines, input, declarations, line_sections.offsets);
    error = write_section({".debug_info", SHT_PROGBITS, std::move(info)});
    if (!error) error = write_section({".debug_ranges", SHT_PROGBITS, std::move(ranges)});
  }
  if (!error) {
    error = write_section({".debug_line", SHT_PROGBITS, std::move(line_sections.bytes)});
  }
  if (!error) {
    error = write_section({".debug_frame", SHT_PROGBITS, frame_section(lines, input), 0, 8});
  }
  if (error) return finish(error);
  error = append(section_names, 1);
  if (error) return finish(error);
  section_headers[names_index].sh_offset = end - section_names.size();
  section_headers[names_index].sh_size = section_names.size();
  error = append(std::string_view(reinterpret_cast<const char*>(section_headers.data()),
                                  section_headers.size() * sizeof(Elf64_Shdr)),
                 8);
  if (error) return finish(error);
  Elf64_Ehdr new_header = *header;
  new_header.e_shoff = end - section_headers.size() * sizeof(Elf64_Shdr);
  new_header.e_shentsize = sizeof(Elf64_Shdr);
  new_header.e_shnum = static_cast<Elf64_Half>(section_headers.size());
  if (out.whole) {
    if (!write_at(&new_header, sizeof new_header, 0)) {
      return finish(failure(fmt::format("{}: {}", output_name, strerror(errno))));
    }
  } else if (out.header != nullptr) {
    out.header->assign(reinterpret_cast<const char*>(&new_header), sizeof new_header);
  }
  return finish(std::nullopt);
}

}  // namespace

Result<SymbolImageStats> write_symbol_image(const GoBinary& binary, const std::string& output) {
  const int fd = ::open(output.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(failure(fmt::format("{}: {}", output, strerror(errno))));
  Destination out{fd, true};
  auto written = write_image(binary, out, output);
  ::close(fd);
  if (!written) ::unlink(output.c_str());
  return written;
}

Result<SymbolImageStats> write_symbol_overlay(const GoBinary& binary, int tail_fd,
                                              SymbolOverlay& overlay) {
  Destination out{tail_fd, false, &overlay.header};
  auto written = write_image(binary, out, "the symbol overlay");
  overlay.tail_start = out.tail_start;
  return written;
}

}  // namespace gostub::symbols
