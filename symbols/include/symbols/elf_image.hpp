// An ELF executable mapped read-only, with the few things Go knowledge needs from it: section
// and segment tables, symbols when present, build ids, and bytes by virtual address. Backed by
// elfutils' libelf over one mmap: nothing is copied, so a 150 MB binary costs only the pages
// actually read. (Debian 12's LIEF 0.9 copies the whole file several times: 163 MB peak for a
// 50 MB binary.)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "symbols/error.hpp"

namespace gostub::symbols {

class ElfImage {
 public:
  struct Section {
    std::string name;
    std::uint32_t type;
    std::uint64_t flags;
    std::uint64_t address;
    std::uint64_t offset;
    std::uint64_t size;
  };
  struct Segment {
    std::uint32_t type;
    std::uint32_t flags;
    std::uint64_t offset;
    std::uint64_t address;
    std::uint64_t file_size;
    std::uint64_t memory_size;
  };

  static Result<ElfImage> open(const std::string& path);
  ElfImage(ElfImage&&) noexcept;
  ElfImage& operator=(ElfImage&&) noexcept;
  ~ElfImage();

  const std::string& path() const { return path_; }
  std::span<const std::uint8_t> file() const { return file_; }
  const std::vector<Section>& sections() const { return sections_; }
  const std::vector<Segment>& segments() const { return segments_; }
  const Section* section(std::string_view name) const;
  std::span<const std::uint8_t> contents(const Section& section) const;

  // File bytes backing [address, address + length), within one loaded segment; empty when the
  // range is not in the file (unmapped, or .bss).
  std::span<const std::uint8_t> at_address(std::uint64_t address, std::uint64_t length) const;
  // Like at_address, but as much as the segment holds from `address` on.
  std::span<const std::uint8_t> from_address(std::uint64_t address) const;

  std::uint64_t entry() const { return entry_; }
  bool position_independent() const { return position_independent_; }
  bool dynamically_linked() const { return has_interpreter_; }
  bool has_symbol_table() const;
  bool has_dwarf() const;
  bool dwarf_compressed() const;
  std::string gnu_build_id() const;  // hex; empty when absent
  std::string go_build_id() const;   // as `go tool buildid` prints it; empty when absent

  std::optional<std::uint64_t> symbol(std::string_view name) const;
  // The addend of an R_X86_64_RELATIVE relocation at `address`: the value a PIE's loader
  // writes there (the file holds 0).
  std::optional<std::uint64_t> relative_relocation(std::uint64_t address) const;
  // Addresses that relative relocations fill with `value` (a PIE's pointers to it).
  std::vector<std::uint64_t> relative_relocations_to(std::uint64_t value) const;

 private:
  ElfImage() = default;
  struct Handle;
  std::string path_;
  std::unique_ptr<Handle> handle_;
  std::span<const std::uint8_t> file_;
  std::vector<Section> sections_;
  std::vector<Segment> segments_;
  std::uint64_t entry_ = 0;
  bool position_independent_ = false;
  bool has_interpreter_ = false;
};

}  // namespace gostub::symbols
