// A Go executable understood from the bytes every Go binary keeps, stripped or not: its
// pclntab (found by section, by symbol, or by searching for the header) and its build info.
#pragma once

#include <optional>
#include <string>

#include "symbols/build_info.hpp"
#include "symbols/elf_image.hpp"
#include "symbols/error.hpp"
#include "symbols/line_table.hpp"

namespace gostub::symbols {

class GoBinary {
 public:
  static Result<GoBinary> open(const std::string& path);

  const ElfImage& image() const { return image_; }
  const LineTable& lines() const { return lines_; }
  // Build info is separate: a binary can have a usable pclntab and no build info (Go < 1.13).
  const std::optional<BuildInfo>& build_info() const { return build_info_; }
  const std::string& build_info_error() const { return build_info_error_; }
  std::uint64_t pclntab_address() const { return pclntab_address_; }
  const std::string& pclntab_found_by() const { return pclntab_found_by_; }

  // What `gostub info` prints: `go version -m`'s text, then what gostub knows.
  std::string describe() const;

  // The source frames at pc, innermost first: the calls inlined there, then the function
  // that contains them (the runtime's own inline unwinding, from pclntab's inline trees).
  struct Frame {
    std::string_view function;
    std::optional<SourceLine> line;
    bool inlined;
  };
  std::vector<Frame> frames(std::uint64_t pc) const;
  // moduledata.gofunc, the base of Go 1.18+ funcdata; nullopt when it could not be found.
  std::optional<std::uint64_t> gofunc() const { return gofunc_; }
  // runtime.firstmoduledata (Go 1.18+), found even in a stripped binary.
  std::optional<std::uint64_t> moduledata() const { return moduledata_; }

 private:
  GoBinary(ElfImage image, LineTable lines) : image_(std::move(image)), lines_(std::move(lines)) {}
  ElfImage image_;
  LineTable lines_;
  std::optional<BuildInfo> build_info_;
  std::string build_info_error_;
  std::uint64_t pclntab_address_ = 0;
  std::string pclntab_found_by_;
  std::optional<std::uint64_t> gofunc_;
  std::optional<std::uint64_t> moduledata_;
};

}  // namespace gostub::symbols
