// Symbols and debug information rebuilt from pclntab, for Go binaries stripped of them
// (-ldflags=-s -w): a copy of the executable with a symbol table (every function, with its
// size), DWARF line tables (pclntab's pc -> file:line) and call-frame information (from pcsp),
// which stock gdb and lldb read like any other. The copy's loaded bytes are the original's;
// only sections are added. ELF headers read with elfutils' libelf; DWARF by dwarf_writer.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "symbols/go_binary.hpp"

namespace gostub::symbols {

struct SymbolImageStats {
  std::uint32_t functions = 0;
  std::uint32_t files = 0;
  std::uint64_t line_rows = 0;
};

// Writes the copy of `binary` with symbols to `output`. Fails for a binary that already has a
// symbol table or DWARF (it needs nothing), and for unreadable input.
Result<SymbolImageStats> write_symbol_image(const GoBinary& binary, const std::string& output);

// The same image without a copy of the input: it is the input with its ELF header replaced by
// `header` and the tail (written to `tail_fd` from offset 0) appended at `tail_start`, the
// input's size. A server holds only this (dockerd: 75 MB of program, a 15 MB tail).
struct SymbolOverlay {
  std::string header;
  std::uint64_t tail_start = 0;
};
Result<SymbolImageStats> write_symbol_overlay(const GoBinary& binary, int tail_fd,
                                              SymbolOverlay& overlay);

}  // namespace gostub::symbols
