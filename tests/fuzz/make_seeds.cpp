// Writes the synthetic seeds of the fuzz corpora: a pclntab of each layout (the unit tests'
// synthetic table), the module text of a build, and a minimal Go ELF executable holding .text,
// .gopclntab (the Go 1.20+ table) and .go.buildinfo (Go 1.18+ inline strings, go1.21.0).
// Run once by hand: make_fuzz_seeds tests/fuzz/corpus
#include <elf.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "synthetic_pclntab.hpp"

using gostub::symbols::PclntabVersion;
using gostub::symbols::testing::SyntheticTable;

namespace {

void write(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void uvarint(std::vector<std::uint8_t>& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

constexpr const char* kModuleText =
    "path\texample.com/synthetic\n"
    "mod\texample.com/synthetic\t(devel)\t\n"
    "dep\tgolang.org/x/sys\tv0.1.0\th1:c2lzCg==\n"
    "build\t-compiler=gc\n"
    "build\tCGO_ENABLED=0\n"
    "build\tGOARCH=amd64\n";

std::vector<std::uint8_t> build_info() {
  std::vector<std::uint8_t> out(32, 0);
  std::memcpy(out.data(), "\xff Go buildinf:", 14);
  out[14] = 8;    // pointer size
  out[15] = 0x2;  // inline strings
  const std::string version = "go1.21.0";
  const std::string modules = std::string(16, 'S') + kModuleText + std::string(16, 'E');
  uvarint(out, version.size());
  out.insert(out.end(), version.begin(), version.end());
  uvarint(out, modules.size());
  out.insert(out.end(), modules.begin(), modules.end());
  return out;
}

std::vector<std::uint8_t> elf(const std::vector<std::uint8_t>& pclntab) {
  struct Part {
    const char* name;
    std::uint64_t address;
    std::uint32_t flags;  // segment flags
    std::vector<std::uint8_t> bytes;
  };
  std::vector<Part> parts = {
      {".text", 0x1000, PF_R | PF_X, std::vector<std::uint8_t>(16, 0xc3)},  // ret x16
      {".gopclntab", 0x2000, PF_R, pclntab},
      {".go.buildinfo", 0x3000, PF_R | PF_W, build_info()},
  };
  std::vector<std::uint8_t> names(1, 0);
  std::vector<std::uint32_t> name_offsets;
  for (const auto& part : parts) {
    name_offsets.push_back(static_cast<std::uint32_t>(names.size()));
    names.insert(names.end(), part.name, part.name + std::strlen(part.name) + 1);
  }
  const auto shstrtab_name = static_cast<std::uint32_t>(names.size());
  names.insert(names.end(), {'.', 's', 'h', 's', 't', 'r', 't', 'a', 'b', 0});

  std::vector<std::uint8_t> out(sizeof(Elf64_Ehdr) + parts.size() * sizeof(Elf64_Phdr), 0);
  std::vector<std::uint64_t> offsets;
  for (const auto& part : parts) {
    offsets.push_back(out.size());
    out.insert(out.end(), part.bytes.begin(), part.bytes.end());
  }
  const auto names_offset = out.size();
  out.insert(out.end(), names.begin(), names.end());
  while (out.size() % 8) out.push_back(0);
  const auto section_headers = out.size();
  out.resize(out.size() + (parts.size() + 2) * sizeof(Elf64_Shdr), 0);

  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_EXEC;
  header.e_machine = EM_X86_64;
  header.e_version = EV_CURRENT;
  header.e_entry = 0x1000;
  header.e_phoff = sizeof(Elf64_Ehdr);
  header.e_shoff = section_headers;
  header.e_ehsize = sizeof(Elf64_Ehdr);
  header.e_phentsize = sizeof(Elf64_Phdr);
  header.e_phnum = static_cast<Elf64_Half>(parts.size());
  header.e_shentsize = sizeof(Elf64_Shdr);
  header.e_shnum = static_cast<Elf64_Half>(parts.size() + 2);
  header.e_shstrndx = static_cast<Elf64_Half>(parts.size() + 1);
  std::memcpy(out.data(), &header, sizeof header);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    Elf64_Phdr segment{};
    segment.p_type = PT_LOAD;
    segment.p_flags = parts[i].flags;
    segment.p_offset = offsets[i];
    segment.p_vaddr = segment.p_paddr = parts[i].address;
    segment.p_filesz = segment.p_memsz = parts[i].bytes.size();
    segment.p_align = 1;
    std::memcpy(out.data() + sizeof(Elf64_Ehdr) + i * sizeof segment, &segment, sizeof segment);
    Elf64_Shdr section{};
    section.sh_name = name_offsets[i];
    section.sh_type = SHT_PROGBITS;
    section.sh_flags = SHF_ALLOC | (parts[i].flags & PF_X ? SHF_EXECINSTR : 0) |
                       (parts[i].flags & PF_W ? SHF_WRITE : 0);
    section.sh_addr = parts[i].address;
    section.sh_offset = offsets[i];
    section.sh_size = parts[i].bytes.size();
    section.sh_addralign = 1;
    std::memcpy(out.data() + section_headers + (i + 1) * sizeof section, &section, sizeof section);
  }
  Elf64_Shdr strings{};
  strings.sh_name = shstrtab_name;
  strings.sh_type = SHT_STRTAB;
  strings.sh_offset = names_offset;
  strings.sh_size = names.size();
  strings.sh_addralign = 1;
  std::memcpy(out.data() + section_headers + (parts.size() + 1) * sizeof strings, &strings,
              sizeof strings);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds CORPUS_DIR\n");
    return 2;
  }
  const std::string corpus = argv[1];
  const std::pair<PclntabVersion, const char*> layouts[] = {{PclntabVersion::k12, "go1.2"},
                                                            {PclntabVersion::k116, "go1.16"},
                                                            {PclntabVersion::k118, "go1.18"},
                                                            {PclntabVersion::k120, "go1.20"}};
  for (const auto& [version, name] : layouts) {
    write(corpus + "/pclntab/synthetic-" + name, SyntheticTable(version).bytes);
  }
  const std::string text = kModuleText;
  write(corpus + "/build_info/synthetic", std::vector<std::uint8_t>(text.begin(), text.end()));
  write(corpus + "/elf/synthetic-go1.21", elf(SyntheticTable(PclntabVersion::k120).bytes));
  return 0;
}
