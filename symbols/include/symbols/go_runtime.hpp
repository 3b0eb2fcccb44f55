// What the Go runtime's data means in a live (or dumped) process: goroutine ids, panic values,
// type names. Memory comes through the MemoryReader interface, so this knows nothing of
// ptrace. Layouts are keyed by the Go version and were read from the runtime's own DWARF
// (runtime.g, runtime._panic, internal/abi.Type, runtime.moduledata) for Go 1.19-1.23.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "symbols/go_binary.hpp"
#include "symbols/runtime_layout.hpp"

namespace gostub::symbols {

class MemoryReader {
 public:
  virtual ~MemoryReader() = default;
  // Reads exactly out.size() bytes at `address` (runtime addresses); false when it cannot.
  virtual bool read(std::uint64_t address, std::span<char> out) const = 0;
  // Many small reads at once (a reader may batch them into few system calls).
  struct Request {
    std::uint64_t address;
    std::span<char> out;
    bool ok;
  };
  virtual void read_many(std::span<Request> requests) const {
    for (auto& request : requests) request.ok = read(request.address, request.out);
  }
};

// One 8-byte word at `address`; nullopt when it cannot be read.
std::optional<std::uint64_t> read_word(const MemoryReader& memory, std::uint64_t address);

class GoRuntime {
 public:
  // `load_bias` is the runtime address minus the link-time address (a PIE's load address).
  GoRuntime(const GoBinary& binary, std::uint64_t load_bias);

  // The goroutine id of the g at `g` (a thread's g is in R14 inside Go code).
  std::optional<std::int64_t> goroutine_id(const MemoryReader& memory, std::uint64_t g) const;
  // The value a *_panic carries, as the runtime prints it after "panic: " where gostub can
  // (strings, errors.New, fmt.Errorf, runtime errors, integers); else "(TYPE) 0xADDR".
  std::string panic_value(const MemoryReader& memory, std::uint64_t panic) const;
  // An interface value {type, data}, rendered the same way.
  std::string interface_value(const MemoryReader& memory, std::uint64_t type,
                              std::uint64_t data) const;
  std::optional<std::string> type_name(const MemoryReader& memory, std::uint64_t type) const;

  // The goroutine an OS thread runs, from the g in its TLS slot (fs_base - 8 on linux/amd64
  // with Go's own linker), following m.curg when the thread is on its scheduler stack (g0).
  // nullopt when the thread runs none, or what the slot holds does not look like a g.
  struct Goroutine {
    std::int64_t id;
    std::string start_function;  // where the goroutine began (g.startpc)
    std::uint64_t g = 0;         // its runtime.g's address
  };
  std::optional<Goroutine> thread_goroutine(const MemoryReader& memory,
                                            std::uint64_t fs_base) const;
  // The address of that goroutine's runtime.g.
  std::optional<std::uint64_t> thread_g(const MemoryReader& memory, std::uint64_t fs_base) const;
  const RuntimeLayout& layout() const { return layout_; }
  std::optional<std::string> go_string(const MemoryReader& memory, std::uint64_t pointer,
                                       std::uint64_t length) const;
  // moduledata.types: the runtime address type descriptors and names are offsets from.
  std::optional<std::uint64_t> types_base(const MemoryReader& memory) const;
  // moduledata.typelinks, a []int32 of offsets from types_base (runtime address, length).
  std::optional<std::pair<std::uint64_t, std::uint64_t>> typelinks(
      const MemoryReader& memory) const;
  std::optional<std::uint64_t> types_end(const MemoryReader& memory) const;

 private:
  const GoBinary& binary_;
  std::uint64_t load_bias_;
  RuntimeLayout layout_;
  std::uint64_t moduledata_types_offset_;
};

}  // namespace gostub::symbols
