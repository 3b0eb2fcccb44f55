#include "symbols/symbol_image.hpp"

#include <capstone/capstone.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gelf.h>
#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

namespace gostub::symbols {

namespace {

// DWARF register numbers on x86-64.
constexpr Dwarf_Unsigned kDwarfRbp = 6;
constexpr Dwarf_Unsigned kDwarfRsp = 7;
constexpr Dwarf_Unsigned kDwarfReturnAddress = 16;

Error failure(std::string message) {
  return Error{std::move(message)};
}

// The DWARF sections libdwarf makes, collected by name (it hands them over in pieces).
struct DwarfSections {
  std::vector<std::string> names;  // by the index the callback returned
  std::map<std::string, std::string> bytes;
};

int on_new_section(const char* name, int, Dwarf_Unsigned, Dwarf_Unsigned, Dwarf_Unsigned,
                   Dwarf_Unsigned, Dwarf_Unsigned* name_index, void* user_data, int* error) {
  auto& sections = *static_cast<DwarfSections*>(user_data);
  *name_index = 0;
  *error = 0;
  sections.names.emplace_back(name);
  return static_cast<int>(sections.names.size());  // the "ELF section index", never 0
}

// Frees the producer however the build ends.
struct Producer {
  Dwarf_P_Debug dbg = nullptr;
  ~Producer() {
    if (dbg != nullptr) dwarf_producer_finish_a(dbg, nullptr);
  }
};

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
  std::vector<LineTable::Function> functions;
  std::uint64_t low = ~std::uint64_t{0}, high = 0;
};

Result<DwarfSections> make_dwarf(const ElfImage& image, const LineTable& lines,
                                 const DwarfInput& input, SymbolImageStats& stats) {
  const PrologueFinder prologues;
  DwarfSections sections;
  Producer producer;
  Dwarf_Error error = nullptr;
  const auto ok = [&](int status, const char* what) -> std::optional<Error> {
    if (status == DW_DLV_OK) return std::nullopt;
    return failure(fmt::format("libdwarf: {} failed: {}", what,
                               error != nullptr ? dwarf_errmsg(error) : "no detail"));
  };
  if (const auto bad = ok(dwarf_producer_init(DW_DLC_WRITE | DW_DLC_POINTER64 | DW_DLC_OFFSET32 |
                                                  DW_DLC_TARGET_LITTLEENDIAN,
                                              on_new_section, nullptr, nullptr, &sections, "x86_64",
                                              "V4", nullptr, &producer.dbg, &error),
                          "producer_init")) {
    return std::unexpected(*bad);
  }
  auto* dbg = producer.dbg;

  // One compile unit for the whole program: pclntab has no per-package units worth keeping.
  Dwarf_P_Die unit = nullptr;
  if (const auto bad = ok(dwarf_new_die_a(dbg, DW_TAG_compile_unit, nullptr, nullptr, nullptr,
                                          nullptr, &unit, &error),
                          "new_die")) {
    return std::unexpected(*bad);
  }
  std::string unit_name = "go (from pclntab)", producer_name = "gostub symbols (from pclntab)";
  Dwarf_P_Attribute attribute = nullptr;
  dwarf_add_AT_name_a(unit, unit_name.data(), &attribute, &error);
  dwarf_add_AT_producer_a(unit, producer_name.data(), &attribute, &error);
  dwarf_add_AT_unsigned_const_a(dbg, unit, DW_AT_language, DW_LANG_Go, &attribute, &error);
  dwarf_add_AT_targ_address_c(dbg, unit, DW_AT_low_pc, input.low, 0, &attribute, &error);
  dwarf_add_AT_targ_address_c(dbg, unit, DW_AT_high_pc, input.high, 0, &attribute, &error);

  Dwarf_P_Die previous = nullptr;
  std::map<std::string_view, Dwarf_Unsigned> file_numbers;
  // CFA = rsp + 8 at entry, the return address just below it.
  const Dwarf_Small initial[] = {DW_CFA_def_cfa, static_cast<Dwarf_Small>(kDwarfRsp), 8,
                                 static_cast<Dwarf_Small>(DW_CFA_offset | kDwarfReturnAddress), 1};
  Dwarf_Unsigned cie = 0;
  char no_augmentation[] = "";
  if (const auto bad =
          ok(dwarf_add_frame_cie_a(dbg, no_augmentation, 1, -8, kDwarfReturnAddress,
                                   const_cast<Dwarf_Small*>(initial), sizeof initial, &cie, &error),
             "add_frame_cie")) {
    return std::unexpected(*bad);
  }

  for (const auto& function : input.functions) {
    // A subprogram per function, so that clients list and name them as functions.
    Dwarf_P_Die die = nullptr;
    dwarf_new_die_a(dbg, DW_TAG_subprogram, previous == nullptr ? unit : nullptr, nullptr, previous,
                    nullptr, &die, &error);
    std::string name(lines.name(function));
    dwarf_add_AT_name_a(die, name.data(), &attribute, &error);
    dwarf_add_AT_targ_address_c(dbg, die, DW_AT_low_pc, function.entry, 0, &attribute, &error);
    dwarf_add_AT_targ_address_c(dbg, die, DW_AT_high_pc, function.end, 0, &attribute, &error);
    dwarf_add_AT_flag_a(dbg, die, DW_AT_external, 1, &attribute, &error);
    previous = die;

    // Line table: one sequence per function.
    auto rows = lines.rows(function);
    const auto body = prologues.body_start(image, function);
    if (body != 0 && !rows.empty()) {
      // The first line again where the body starts, unless a row starts there already.
      const auto at =
          std::lower_bound(rows.begin(), rows.end(), body,
                           [](const auto& row, std::uint64_t pc) { return row.pc < pc; });
      if (at == rows.end() || at->pc != body) {
        rows.insert(at, LineTable::LineRow{body, std::prev(at)->line});
      }
    }
    if (!rows.empty()) {
      dwarf_lne_set_address_a(dbg, function.entry, 0, &error);
      for (const auto& row : rows) {
        if (row.line.line < 0) continue;  // alignment padding: the sequence's end covers it
        auto [found, added] = file_numbers.try_emplace(row.line.file, 0);
        if (added) {
          // An empty name would end DWARF's file table early.
          std::string file = row.line.file.empty() ? "?" : std::string(row.line.file);
          Dwarf_Unsigned count = 0;
          dwarf_add_file_decl_a(dbg, file.data(), 0, 0, 0, &count, &error);
          found->second = count;  // DWARF 4 numbers files from 1
        }
        // prologue_end, where the body starts: gdb 13 breaks there, as with Go's own DWARF.
        dwarf_add_line_entry_c(dbg, found->second, row.pc,
                               static_cast<Dwarf_Unsigned>(std::max(row.line.line, 0)), 0, 1, 0, 0,
                               row.pc == body, 0, 0, &error);
        ++stats.line_rows;
      }
      dwarf_lne_end_sequence_a(dbg, function.end, &error);
    }

    // Call-frame information from pcsp: CFA = rsp + 8 + delta; once the frame exists, the
    // caller's rbp is saved just below the return address (Go keeps frame pointers).
    Dwarf_P_Fde fde = nullptr;
    dwarf_new_fde_a(dbg, &fde, &error);
    std::uint64_t at = function.entry;
    bool rbp_saved = false;
    for (const auto& run : lines.stack_runs(function)) {
      if (run.pc > at) {
        dwarf_add_fde_inst_a(fde, DW_CFA_advance_loc, run.pc - at, 0, &error);
        at = run.pc;
      } else if (run.pc < at) {
        continue;
      }
      if (run.delta < 0) continue;
      dwarf_add_fde_inst_a(fde, DW_CFA_def_cfa_offset, static_cast<Dwarf_Unsigned>(run.delta) + 8,
                           0, &error);
      if (run.delta >= 8 && !rbp_saved) {
        dwarf_add_fde_inst_a(fde, DW_CFA_offset, kDwarfRbp, 2, &error);  // cfa - 16
        rbp_saved = true;
      } else if (run.delta == 0 && rbp_saved) {
        dwarf_add_fde_inst_a(fde, DW_CFA_restore, kDwarfRbp, 0, &error);
        rbp_saved = false;
      }
    }
    Dwarf_Unsigned fde_index = 0;
    dwarf_add_frame_fde_c(dbg, fde, nullptr, cie, function.entry, function.end - function.entry, 0,
                          0, 0, &fde_index, &error);
  }
  stats.files = static_cast<std::uint32_t>(file_numbers.size());
  if (const auto bad = ok(dwarf_add_die_to_debug_a(dbg, unit, &error), "add_die_to_debug")) {
    return std::unexpected(*bad);
  }
  Dwarf_Signed buffers = 0;
  if (const auto bad =
          ok(dwarf_transform_to_disk_form_a(dbg, &buffers, &error), "transform_to_disk_form")) {
    return std::unexpected(*bad);
  }
  for (Dwarf_Signed i = 0; i < buffers; ++i) {
    Dwarf_Signed index = 0;
    Dwarf_Unsigned length = 0;
    Dwarf_Ptr bytes = nullptr;
    if (dwarf_get_section_bytes_a(dbg, i, &index, &length, &bytes, &error) != DW_DLV_OK) break;
    if (index < 1 || static_cast<std::size_t>(index) > sections.names.size()) continue;
    const auto& name = sections.names[static_cast<std::size_t>(index) - 1];
    if (name.starts_with(".rel")) continue;  // absolute addresses: no relocations wanted
    sections.bytes[name].append(static_cast<const char*>(bytes), length);
  }
  return sections;
}

struct NewSection {
  std::string name;
  std::uint32_t type;
  std::string bytes;
  std::uint64_t entry_size = 0, align = 1;
  std::uint32_t link = 0, info = 0;
};

}  // namespace

Result<SymbolImageStats> write_symbol_image(const GoBinary& binary, const std::string& output) {
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
    input.low = std::min(input.low, function->entry);
    input.high = std::max(input.high, function->end);
  }
  if (input.functions.empty()) return std::unexpected(failure("pclntab lists no functions"));
  stats.functions = static_cast<std::uint32_t>(input.functions.size());
  auto dwarf = make_dwarf(image, lines, input, stats);
  if (!dwarf) return std::unexpected(dwarf.error());

  elf_version(EV_CURRENT);
  const int in_fd = ::open(image.path().c_str(), O_RDONLY | O_CLOEXEC);
  if (in_fd < 0)
    return std::unexpected(failure(fmt::format("{}: {}", image.path(), strerror(errno))));
  const int out_fd = ::open(output.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0) {
    const int saved = errno;
    ::close(in_fd);
    return std::unexpected(failure(fmt::format("{}: {}", output, strerror(saved))));
  }
  Elf* source = elf_begin(in_fd, ELF_C_READ_MMAP, nullptr);
  Elf* target = elf_begin(out_fd, ELF_C_WRITE, nullptr);
  const auto finish = [&](std::optional<Error> error) -> Result<SymbolImageStats> {
    if (target != nullptr) elf_end(target);
    if (source != nullptr) elf_end(source);
    ::close(out_fd);
    ::close(in_fd);
    if (error) {
      ::unlink(output.c_str());
      return std::unexpected(*error);
    }
    return stats;
  };
  const auto elf_failure = [](const char* what) {
    return failure(fmt::format("libelf: {}: {}", what, elf_errmsg(-1)));
  };
  GElf_Ehdr header;
  if (source == nullptr || target == nullptr || gelf_getehdr(source, &header) == nullptr) {
    return finish(elf_failure("reading the ELF header"));
  }
  // The loaded bytes must stay where the program headers say: lay the file out ourselves.
  elf_flagelf(target, ELF_C_SET, ELF_F_LAYOUT);
  if (gelf_newehdr(target, gelf_getclass(source)) == nullptr) return finish(elf_failure("ehdr"));
  std::size_t segment_count = 0;
  elf_getphdrnum(source, &segment_count);
  if (segment_count > 0 && gelf_newphdr(target, segment_count) == nullptr) {
    return finish(elf_failure("phdr"));
  }
  for (std::size_t i = 0; i < segment_count; ++i) {
    GElf_Phdr segment;
    gelf_getphdr(source, static_cast<int>(i), &segment);
    gelf_update_phdr(target, static_cast<int>(i), &segment);
  }
  std::uint64_t end = header.e_phoff + segment_count * header.e_phentsize;
  std::size_t names_index = 0;
  elf_getshdrstrndx(source, &names_index);
  std::string section_names;
  std::map<std::uint64_t, std::size_t> section_by_address;  // executable sections, for symbols
  for (Elf_Scn* scn = elf_nextscn(source, nullptr); scn != nullptr;
       scn = elf_nextscn(source, scn)) {
    GElf_Shdr shdr;
    gelf_getshdr(scn, &shdr);
    Elf_Scn* copy = elf_newscn(target);
    if (elf_ndxscn(scn) == names_index) {
      Elf_Data* data = elf_getdata(scn, nullptr);
      if (data != nullptr)
        section_names.assign(static_cast<const char*>(data->d_buf), data->d_size);
    } else if (shdr.sh_type != SHT_NOBITS && shdr.sh_type != SHT_NULL) {
      Elf_Data* data = elf_rawdata(scn, nullptr);
      Elf_Data* copied = elf_newdata(copy);
      *copied = *data;
      end = std::max(end, shdr.sh_offset + shdr.sh_size);
    }
    if ((shdr.sh_flags & SHF_EXECINSTR) != 0) section_by_address[shdr.sh_addr] = elf_ndxscn(scn);
    gelf_update_shdr(copy, &shdr);
  }

  // .symtab: every function, global, in the executable section that holds it.
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
  std::vector<NewSection> added;
  std::size_t first_new = 0;  // the index .symtab gets; .strtab follows it
  elf_getshdrnum(target, &first_new);
  added.push_back({".symtab", SHT_SYMTAB, std::move(symbols), sizeof(Elf64_Sym), 8,
                   static_cast<std::uint32_t>(first_new + 1), 1});
  added.push_back({".strtab", SHT_STRTAB, std::move(strings)});
  for (auto& [name, bytes] : dwarf->bytes) added.push_back({name, SHT_PROGBITS, std::move(bytes)});

  // The new sections and the grown section-name table go after everything else.
  for (auto& section : added) {
    const auto name_offset = section_names.size();
    section_names += section.name;
    section_names.push_back('\0');
    Elf_Scn* scn = elf_newscn(target);
    Elf_Data* data = elf_newdata(scn);
    data->d_buf = section.bytes.data();
    data->d_size = section.bytes.size();
    data->d_type = ELF_T_BYTE;
    data->d_align = section.align;
    GElf_Shdr shdr{};
    shdr.sh_name = static_cast<Elf64_Word>(name_offset);
    shdr.sh_type = section.type;
    shdr.sh_offset = (end + section.align - 1) / section.align * section.align;
    shdr.sh_size = section.bytes.size();
    shdr.sh_addralign = section.align;
    shdr.sh_entsize = section.entry_size;
    shdr.sh_link = section.link;
    shdr.sh_info = section.info;
    gelf_update_shdr(scn, &shdr);
    end = shdr.sh_offset + shdr.sh_size;
  }
  Elf_Scn* names = elf_getscn(target, names_index);
  GElf_Shdr names_header;
  gelf_getshdr(names, &names_header);
  Elf_Data* names_data = elf_newdata(names);
  names_data->d_buf = section_names.data();
  names_data->d_size = section_names.size();
  names_data->d_type = ELF_T_BYTE;
  names_data->d_align = 1;
  names_header.sh_offset = end;
  names_header.sh_size = section_names.size();
  gelf_update_shdr(names, &names_header);
  end += section_names.size();

  header.e_shoff = (end + 7) / 8 * 8;
  gelf_update_ehdr(target, &header);
  if (elf_update(target, ELF_C_WRITE) < 0) return finish(elf_failure("writing"));
  return finish(std::nullopt);
}

}  // namespace gostub::symbols
