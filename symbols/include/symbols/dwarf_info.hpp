// What a Go binary's DWARF says about variables and types, read with elfutils libdw: package
// variables (DW_OP_addr), the locals and arguments of a function at a pc (frame-base and
// CFA-relative, in registers, or in pieces), and Go types with Go's own attributes
// (DW_AT_go_kind, _key, _elem). nullptr from open() when the binary has no DWARF (stripped).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "symbols/error.hpp"
#include "symbols/go_types.hpp"

namespace gostub::symbols {

// Where a variable's value is at one pc of one frame.
struct VariablePlace {
  std::optional<std::uint64_t> address;  // in memory (link-time for a package variable)
  std::string bytes;                     // else its bytes, gathered from registers
  // Of a value in pieces (DW_OP_piece), those in memory: where in `bytes` each goes.
  struct MemoryPiece {
    std::size_t offset;
    std::uint64_t address, size;
  };
  std::vector<MemoryPiece> from_memory;
};

// What a frame offers to a location expression.
struct FrameContext {
  std::uint64_t pc = 0;   // link-time
  std::uint64_t cfa = 0;  // runtime address: the caller's sp before the call
  // A register's bytes by DWARF number; nullopt where the value is not known (outer frames).
  std::function<std::optional<std::string>(int)> reg;
};

class DwarfInfo {
 public:
  static std::unique_ptr<DwarfInfo> open(const std::string& path, std::string& why_not);
  ~DwarfInfo();
  DwarfInfo(const DwarfInfo&) = delete;
  DwarfInfo& operator=(const DwarfInfo&) = delete;

  struct Variable {
    std::string name;
    const GoType* type = nullptr;
    std::uint64_t die = 0;  // its DIE, for the location
  };
  // A package variable by its full name ("main.counter"); its address is link-time.
  std::optional<std::pair<Variable, std::uint64_t>> global(std::string_view name);
  // The locals and arguments in scope at a link-time pc, innermost scope first.
  std::vector<Variable> locals(std::uint64_t pc);
  // Where a local is in this frame, or why it cannot be told ("optimized out").
  Result<VariablePlace> place(const Variable& variable, const FrameContext& frame);
  // A type by its Go name ("main.Request", "*main.Request", "[]int").
  const GoType* type_named(std::string_view name);
  // The type whose runtime descriptor is `offset` bytes into moduledata.types
  // (DW_AT_go_runtime_type), as DWARF names it ("*io/fs.PathError" where the runtime says
  // "*fs.PathError"); `direct_interface` comes from that descriptor, which DWARF lacks.
  const GoType* runtime_type(std::uint64_t offset, bool direct_interface);
  // The function (DW_TAG_subprogram) that contains a link-time pc: its name, or "".
  std::string function_at(std::uint64_t pc);

 private:
  struct Impl;
  explicit DwarfInfo(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gostub::symbols
