#include "symbols/go_binary.hpp"

#include <elf.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace gostub::symbols {

namespace {

struct Located {
  std::uint64_t address;
  std::span<const std::uint8_t> bytes;
  std::string found_by;
};

bool in_executable_segment(const ElfImage& image, std::uint64_t address) {
  for (const auto& segment : image.segments()) {
    if (segment.type == PT_LOAD && (segment.flags & PF_X) && address >= segment.address &&
        address < segment.address + segment.memory_size) {
      return true;
    }
  }
  return false;
}

std::uint64_t text_start_for(const ElfImage& image, const Located& table) {
  // Go 1.18+ records runtime.text in the header. A PIE leaves it 0 in the file and lets the
  // loader write it through a relative relocation; without either, the symbol or .text.
  if (const auto recorded = LineTable::header_text_start(table.bytes); recorded && *recorded != 0) {
    return *recorded;
  }
  constexpr std::uint64_t kTextStartWord = 8 + 2 * 8;
  if (const auto relocated = image.relative_relocation(table.address + kTextStartWord))
    return *relocated;
  if (const auto symbol = image.symbol("runtime.text")) return *symbol;
  if (const auto* text = image.section(".text")) return text->address;
  return 0;
}

Result<LineTable> parse_at(const ElfImage& image, const Located& table) {
  return LineTable::parse(table.bytes, text_start_for(image, table));
}

// A parse that yields functions inside executable code: the sign of a real table.
bool plausible(const ElfImage& image, const LineTable& lines) {
  if (lines.function_count() == 0) return false;
  const auto first = lines.function(0);
  const auto last = lines.function(lines.function_count() - 1);
  return first && last && first->entry < last->end && in_executable_segment(image, first->entry) &&
         in_executable_segment(image, last->end - 1);
}

// Finds a pclntab header in `bytes` (at `address`): the magic's last three bytes 0xff, two zero
// bytes, quantum 1 and pointer size 8, 8-byte aligned; then a plausible parse.
std::optional<Located> search_in(const ElfImage& image, std::span<const std::uint8_t> bytes,
                                 std::uint64_t address) {
  constexpr std::array<std::uint8_t, 1> kFirstBytes[] = {{0xf1}, {0xf0}, {0xfa}, {0xfb}};
  constexpr std::uint8_t kRest[] = {0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x08};
  std::size_t at = 0;
  while (at + 16 <= bytes.size()) {
    const auto* hit = static_cast<const std::uint8_t*>(
        memmem(bytes.data() + at + 1, bytes.size() - at - 1, kRest, sizeof kRest));
    if (hit == nullptr) return std::nullopt;
    const auto start = static_cast<std::size_t>(hit - bytes.data()) - 1;
    at = start + 1;
    if (start % 8 != 0) continue;
    if (std::none_of(std::begin(kFirstBytes), std::end(kFirstBytes),
                     [&](const auto& first) { return bytes[start] == first[0]; })) {
      continue;
    }
    Located candidate{address + start, bytes.subspan(start), "header search"};
    if (auto lines = parse_at(image, candidate); lines && plausible(image, *lines))
      return candidate;
  }
  return std::nullopt;
}

std::optional<Located> search_for_header(const ElfImage& image) {
  // The external linker merges the table into .data.rel.ro (PIE) or .rodata: look there before
  // scanning whole segments, so that fewer pages of a large binary are read.
  for (const auto* name : {".data.rel.ro", ".rodata"}) {
    if (const auto* section = image.section(name)) {
      if (auto found = search_in(image, image.contents(*section), section->address)) return found;
    }
  }
  for (const auto& segment : image.segments()) {
    if (segment.type != PT_LOAD || (segment.flags & PF_X)) continue;
    if (auto found = search_in(image, image.from_address(segment.address), segment.address)) {
      return found;
    }
  }
  return std::nullopt;
}

std::optional<Located> locate_pclntab(const ElfImage& image) {
  for (const auto* name : {".gopclntab", ".data.rel.ro.gopclntab"}) {
    if (const auto* section = image.section(name)) {
      return Located{section->address, image.contents(*section), std::string("section ") + name};
    }
  }
  if (const auto symbol = image.symbol("runtime.pclntab")) {
    if (const auto bytes = image.from_address(*symbol); !bytes.empty()) {
      return Located{*symbol, bytes, "symbol runtime.pclntab"};
    }
  }
  return search_for_header(image);
}

std::string size_text(std::uint64_t bytes) {
  if (bytes >= 10 << 20) return fmt::format("{} MiB", bytes >> 20);
  if (bytes >= 10 << 10) return fmt::format("{} KiB", bytes >> 10);
  return fmt::format("{} bytes", bytes);
}

// runtime.moduledata field offsets (pointer 8, slice 24 bytes): pcHeader is first, text at
// 176 in every version; Go 1.20 added covctrs/ecovctrs before end, moving gofunc.
constexpr std::uint64_t kModuledataText = 176;
std::uint64_t moduledata_gofunc_offset(PclntabVersion version) {
  return version == PclntabVersion::k120 ? 320 : 304;
}

std::optional<std::uint64_t> read_word(const ElfImage& image, std::uint64_t address) {
  // A PIE's pointers are 0 in the file; the loader writes them from relative relocations.
  const auto bytes = image.at_address(address, 8);
  if (bytes.empty()) return std::nullopt;
  std::uint64_t value;
  std::memcpy(&value, bytes.data(), 8);
  if (value == 0 && image.position_independent()) return image.relative_relocation(address);
  return value;
}

// moduledata starts with a pointer to pclntab; its text field confirms a candidate.
std::optional<std::uint64_t> find_moduledata(const ElfImage& image, std::uint64_t pclntab,
                                             std::uint64_t text_start) {
  if (const auto symbol = image.symbol("runtime.firstmoduledata")) return symbol;
  const auto confirm = [&](std::uint64_t candidate) {
    return read_word(image, candidate + kModuledataText) == text_start;
  };
  for (const auto* name : {".noptrdata", ".data"}) {
    const auto* section = image.section(name);
    if (section == nullptr) continue;
    const auto bytes = image.contents(*section);
    for (std::size_t at = 0; at + 8 <= bytes.size(); at += 8) {
      std::uint64_t value;
      std::memcpy(&value, bytes.data() + at, 8);
      if (value == pclntab && confirm(section->address + at)) return section->address + at;
    }
  }
  if (image.position_independent()) {
    for (const auto address : image.relative_relocations_to(pclntab)) {
      if (confirm(address)) return address;
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> find_gofunc(const ElfImage& image, const LineTable& lines,
                                         std::optional<std::uint64_t> moduledata) {
  if (!lines.funcdata_relative_to_gofunc()) return std::nullopt;
  for (const auto* name : {"go:func.*", "go.func.*"}) {
    if (const auto symbol = image.symbol(name)) return symbol;
  }
  if (!moduledata) return std::nullopt;
  return read_word(image, *moduledata + moduledata_gofunc_offset(lines.version()));
}

constexpr std::uint32_t kPcdataInlTreeIndex = 2;  // internal/abi: PCDATA_InlTreeIndex
constexpr std::uint32_t kFuncdataInlTree = 3;     // internal/abi: FUNCDATA_InlTree

}  // namespace

std::vector<GoBinary::Frame> GoBinary::frames(std::uint64_t pc) const {
  std::vector<Frame> out;
  const auto function = lines_.find(pc);
  if (!function) return out;
  const auto outermost = [&](std::uint64_t at) {
    out.push_back(Frame{lines_.name(*function), lines_.source_line(at), false});
  };
  const auto index_table = lines_.pcdata_table(*function, kPcdataInlTreeIndex);
  auto tree = lines_.funcdata(*function, kFuncdataInlTree);
  if (tree && lines_.funcdata_relative_to_gofunc()) {
    tree = gofunc_ ? std::optional(*gofunc_ + *tree) : std::nullopt;
  }
  if (!index_table || !tree) {
    outermost(pc);
    return out;
  }
  // Before Go 1.20 an entry is {parent int16, funcID, _, file, line, func, parentPc int32};
  // since, {funcID, _[3], nameOff, parentPc, startLine int32}.
  const bool compact = lines_.version() == PclntabVersion::k120;
  const std::uint64_t entry_size = compact ? 16 : 20;
  const std::uint64_t name_at = compact ? 4 : 12;
  const std::uint64_t parent_pc_at = compact ? 8 : 16;
  std::uint64_t at = pc;
  for (int depth = 0; depth < 64; ++depth) {  // bounded: a corrupt tree must not loop
    const auto index = lines_.pcdata_value(*function, *index_table, at);
    if (!index || *index < 0) break;
    const auto record =
        image_.at_address(*tree + entry_size * static_cast<std::uint64_t>(*index), entry_size);
    if (record.empty()) break;
    std::int32_t name_offset, parent_pc;
    std::memcpy(&name_offset, record.data() + name_at, 4);
    std::memcpy(&parent_pc, record.data() + parent_pc_at, 4);
    out.push_back(Frame{lines_.name_at(static_cast<std::uint32_t>(name_offset)),
                        lines_.source_line(at), true});
    at = function->entry + static_cast<std::uint32_t>(parent_pc);
  }
  outermost(at);
  return out;
}

Result<GoBinary> GoBinary::open(const std::string& path) {
  auto image = ElfImage::open(path);
  if (!image) return std::unexpected(image.error());
  const auto located = locate_pclntab(*image);
  if (!located) return fail(fmt::format("{}: no Go pclntab found (not a Go program?)", path));
  auto lines = parse_at(*image, *located);
  if (!lines) return fail(fmt::format("{}: {}", path, lines.error().message));
  GoBinary binary(std::move(*image), std::move(*lines));
  binary.pclntab_address_ = located->address;
  binary.pclntab_found_by_ = located->found_by;
  if (binary.lines_.version() >= PclntabVersion::k118) {
    binary.moduledata_ =
        find_moduledata(binary.image_, located->address, binary.lines_.text_start());
  }
  binary.gofunc_ = find_gofunc(binary.image_, binary.lines_, binary.moduledata_);
  if (auto info = read_build_info(binary.image_)) {
    binary.build_info_ = std::move(*info);
  } else {
    binary.build_info_error_ = info.error().message;
  }
  return binary;
}

std::string GoBinary::describe() const {
  std::string out;
  if (build_info_) {
    // `go version -m` prints the module text, one tab-indented line each.
    out += fmt::format("{}: {}\n", image_.path(), build_info_->go_version);
    std::string_view text = build_info_->module_text;
    while (!text.empty()) {
      const auto newline = text.find('\n');
      out += fmt::format("\t{}\n", text.substr(0, newline));
      if (newline == std::string_view::npos) break;
      text.remove_prefix(newline + 1);
    }
  } else {
    out += fmt::format("{}: unknown Go version ({})\n", image_.path(), build_info_error_);
  }
  const auto yes_no = [](bool value) { return value ? "yes" : "no"; };
  // Whether C code is linked in (runtime/cgo, or calls through cgo), apart from the build
  // setting: CGO_ENABLED=1 is the default on a machine with a C compiler, and a program that
  // imports no C is built static and pure Go all the same.
  bool links_c = false;
  for (std::uint32_t i = 0; i < lines_.function_count() && !links_c; ++i) {
    if (const auto function = lines_.function(i)) {
      const auto name = lines_.name(*function);
      links_c = name.starts_with("runtime/cgo.") || name.find("._Cfunc_") != name.npos;
    }
  }
  std::string cgo = links_c ? "links C code" : "pure Go";
  if (build_info_) {
    if (const auto* setting = build_info_->setting("CGO_ENABLED")) {
      cgo += fmt::format(" (built with CGO_ENABLED={})", *setting);
    }
  }
  const auto* pclntab_section = image_.section(".gopclntab");
  if (pclntab_section == nullptr) pclntab_section = image_.section(".data.rel.ro.gopclntab");
  out += "gostub:\n";
  out += fmt::format("\tfunctions\t{}\n", lines_.function_count());
  out += fmt::format("\tfiles\t{}\n", lines_.file_count());
  out += fmt::format("\tpclntab\t{} format, {} ({:#x}{})\n", symbols::describe(lines_.version()),
                     pclntab_found_by_, pclntab_address_,
                     pclntab_section ? ", " + size_text(pclntab_section->size) : "");
  out += fmt::format("\ttext\t{:#x}\n", lines_.text_start());
  if (lines_.funcdata_relative_to_gofunc()) {
    out += gofunc_ ? fmt::format("\tinline trees\tgo:func.* at {:#x}\n", *gofunc_)
                   : std::string("\tinline trees\tunavailable (moduledata not found)\n");
  }
  out += fmt::format("\tsymbol table\t{}\n", image_.has_symbol_table() ? "present" : "stripped");
  out += fmt::format("\tdwarf\t{}\n", !image_.has_dwarf()         ? "absent"
                                      : image_.dwarf_compressed() ? "present (compressed)"
                                                                  : "present");
  out += fmt::format("\tpie\t{}\n", yes_no(image_.position_independent()));
  out += fmt::format("\tcgo\t{}\n", cgo);
  out += fmt::format("\tlinking\t{}\n", image_.dynamically_linked() ? "dynamic" : "static");
  if (const auto id = image_.go_build_id(); !id.empty())
    out += fmt::format("\tgo build id\t{}\n", id);
  if (const auto id = image_.gnu_build_id(); !id.empty())
    out += fmt::format("\tgnu build id\t{}\n", id);
  return out;
}

}  // namespace gostub::symbols
