#include "symbols/elf_image.hpp"

#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstring>

namespace gostub::symbols {

struct ElfImage::Handle {
  int fd = -1;
  Elf* elf = nullptr;
  ~Handle() {
    if (elf != nullptr) elf_end(elf);
    if (fd >= 0) ::close(fd);
  }
};

ElfImage::ElfImage(ElfImage&&) noexcept = default;
ElfImage& ElfImage::operator=(ElfImage&&) noexcept = default;
ElfImage::~ElfImage() = default;

Result<ElfImage> ElfImage::open(const std::string& path) {
  if (elf_version(EV_CURRENT) == EV_NONE) return fail("libelf is out of date");
  ElfImage image;
  image.path_ = path;
  image.handle_ = std::make_unique<Handle>();
  image.handle_->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (image.handle_->fd < 0) return fail(fmt::format("{}: {}", path, std::strerror(errno)));
  image.handle_->elf = elf_begin(image.handle_->fd, ELF_C_READ_MMAP, nullptr);
  Elf* elf = image.handle_->elf;
  if (elf == nullptr || elf_kind(elf) != ELF_K_ELF) {
    return fail(fmt::format("{}: not an ELF file", path));
  }
  GElf_Ehdr header;
  if (gelf_getehdr(elf, &header) == nullptr) return fail(fmt::format("{}: bad ELF header", path));
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_machine != EM_X86_64) {
    return fail(fmt::format("{}: not an x86-64 ELF file", path));
  }
  image.position_independent_ = header.e_type == ET_DYN;
  image.entry_ = header.e_entry;
  std::size_t size = 0;
  const char* raw = elf_rawfile(elf, &size);
  if (raw == nullptr) return fail(fmt::format("{}: cannot map the file", path));
  image.file_ = {reinterpret_cast<const std::uint8_t*>(raw), size};

  std::size_t names_index = 0;
  elf_getshdrstrndx(elf, &names_index);
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    const char* name = elf_strptr(elf, names_index, shdr.sh_name);
    image.sections_.push_back(Section{name ? name : "", shdr.sh_type, shdr.sh_flags, shdr.sh_addr,
                                      shdr.sh_offset, shdr.sh_size});
  }
  std::size_t count = 0;
  elf_getphdrnum(elf, &count);
  for (std::size_t i = 0; i < count; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr) continue;
    image.segments_.push_back(Segment{phdr.p_type, phdr.p_flags, phdr.p_offset, phdr.p_vaddr,
                                      phdr.p_filesz, phdr.p_memsz});
    if (phdr.p_type == PT_INTERP) image.has_interpreter_ = true;
  }
  return image;
}

const ElfImage::Section* ElfImage::section(std::string_view name) const {
  for (const auto& section : sections_) {
    if (section.name == name) return &section;
  }
  return nullptr;
}

std::span<const std::uint8_t> ElfImage::contents(const Section& section) const {
  if (section.type == SHT_NOBITS || section.offset > file_.size() ||
      section.size > file_.size() - section.offset) {
    return {};
  }
  return file_.subspan(section.offset, section.size);
}

std::span<const std::uint8_t> ElfImage::from_address(std::uint64_t address) const {
  for (const auto& segment : segments_) {
    if (segment.type != PT_LOAD || address < segment.address ||
        address - segment.address >= segment.file_size) {
      continue;
    }
    const auto offset = segment.offset + (address - segment.address);
    const auto available = segment.file_size - (address - segment.address);
    if (offset > file_.size() || available > file_.size() - offset) return {};
    return file_.subspan(offset, available);
  }
  return {};
}

std::span<const std::uint8_t> ElfImage::at_address(std::uint64_t address,
                                                   std::uint64_t length) const {
  const auto bytes = from_address(address);
  if (bytes.size() < length) return {};
  return bytes.first(length);
}

bool ElfImage::has_symbol_table() const {
  for (const auto& section : sections_) {
    if (section.type == SHT_SYMTAB) return true;
  }
  return false;
}

bool ElfImage::has_dwarf() const {
  return section(".debug_info") != nullptr || section(".zdebug_info") != nullptr;
}

bool ElfImage::dwarf_compressed() const {
  if (section(".zdebug_info") != nullptr) return true;
  const auto* info = section(".debug_info");
  return info != nullptr && (info->flags & SHF_COMPRESSED) != 0;
}

namespace {

// Walks the notes of every SHT_NOTE section; `visit(name, type, description)`.
template <typename Visit>
void for_each_note(Elf* elf, Visit visit) {
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_NOTE) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr) continue;
    std::size_t offset = 0, name_offset = 0, description_offset = 0;
    GElf_Nhdr note;
    while ((offset = gelf_getnote(data, offset, &note, &name_offset, &description_offset)) > 0) {
      const auto* base = static_cast<const char*>(data->d_buf);
      std::string_view name(base + name_offset, note.n_namesz);
      while (!name.empty() && name.back() == '\0') name.remove_suffix(1);  // "Go\0\0": padded
      visit(name, note.n_type, std::string_view(base + description_offset, note.n_descsz));
    }
  }
}

}  // namespace

std::string ElfImage::gnu_build_id() const {
  std::string id;
  for_each_note(handle_->elf,
                [&](std::string_view name, std::uint32_t type, std::string_view description) {
                  if (name == "GNU" && type == NT_GNU_BUILD_ID) {
                    for (unsigned char c : description) id += fmt::format("{:02x}", c);
                  }
                });
  return id;
}

std::string ElfImage::go_build_id() const {
  constexpr std::uint32_t kGoBuildIdNote = 4;  // cmd/link: ELF_NOTE_GOBUILDID_TAG
  std::string id;
  for_each_note(handle_->elf,
                [&](std::string_view name, std::uint32_t type, std::string_view description) {
                  if (name == "Go" && type == kGoBuildIdNote) id = std::string(description);
                });
  return id;
}

std::optional<std::uint64_t> ElfImage::symbol(std::string_view name) const {
  Elf* elf = handle_->elf;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr ||
        (shdr.sh_type != SHT_SYMTAB && shdr.sh_type != SHT_DYNSYM)) {
      continue;
    }
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr || shdr.sh_entsize == 0) continue;
    const auto count = shdr.sh_size / shdr.sh_entsize;
    for (std::size_t i = 0; i < count; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
      const char* symbol_name = elf_strptr(elf, shdr.sh_link, sym.st_name);
      if (symbol_name != nullptr && name == symbol_name) return sym.st_value;
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> ElfImage::relative_relocation(std::uint64_t address) const {
  // Linkers sort relative relocations by address (-z combreloc), so a binary search over the
  // mapped entries reads a few pages of a PIE's many megabytes of them; a linear scan covers
  // the unsorted rest.
  for (const auto& section : sections_) {
    if (section.type != SHT_RELA) continue;
    const auto bytes = contents(section);
    const std::size_t count = bytes.size() / sizeof(Elf64_Rela);
    const auto entry = [&](std::size_t i) {
      Elf64_Rela rela;
      std::memcpy(&rela, bytes.data() + i * sizeof rela, sizeof rela);
      return rela;
    };
    const auto matches = [&](const Elf64_Rela& rela) {
      return rela.r_offset == address && ELF64_R_TYPE(rela.r_info) == R_X86_64_RELATIVE;
    };
    std::size_t low = 0, high = count;
    while (low < high) {
      const auto middle = low + (high - low) / 2;
      const auto rela = entry(middle);
      if (matches(rela)) return static_cast<std::uint64_t>(rela.r_addend);
      if (ELF64_R_TYPE(rela.r_info) != R_X86_64_RELATIVE) {
        high = middle;  // relative relocations come first
      } else if (rela.r_offset < address) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    for (std::size_t i = 0; i < count; ++i) {
      if (const auto rela = entry(i); matches(rela))
        return static_cast<std::uint64_t>(rela.r_addend);
    }
  }
  return std::nullopt;
}

std::vector<std::uint64_t> ElfImage::relative_relocations_to(std::uint64_t value) const {
  std::vector<std::uint64_t> addresses;
  for (const auto& section : sections_) {
    if (section.type != SHT_RELA) continue;
    const auto bytes = contents(section);
    for (std::size_t at = 0; at + sizeof(Elf64_Rela) <= bytes.size(); at += sizeof(Elf64_Rela)) {
      Elf64_Rela rela;
      std::memcpy(&rela, bytes.data() + at, sizeof rela);
      if (ELF64_R_TYPE(rela.r_info) == R_X86_64_RELATIVE &&
          static_cast<std::uint64_t>(rela.r_addend) == value) {
        addresses.push_back(rela.r_offset);
      }
    }
  }
  return addresses;
}

}  // namespace gostub::symbols
