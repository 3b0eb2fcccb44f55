// Go values written as Delve's `print` writes them (Go's own literal syntax where it has one):
// `main.Point {X: 3, Y: 4, Name: "p"}`, `[]int len: 5, cap: 5, [1,2,3,4,5]`,
// `map[string]int ["a": 1, "b": 2]`, `error(*main.MyErr) *{Code: 7}`. Memory comes through a
// MemoryReader; the work is bounded by the limits, whatever the memory holds (a corrupt length,
// a cycle of pointers, a map of ten million entries).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "symbols/go_runtime.hpp"
#include "symbols/go_types.hpp"

namespace gostub::symbols {

struct PrintLimits {
  std::size_t elements = 64;      // of a slice, array or map (Delve's MaxArrayValues)
  std::size_t string = 64;        // bytes of a string (Delve's MaxStringLen)
  int depth = 1;                  // nested structs, arrays and maps expanded (MaxVariableRecurse)
  std::size_t buckets = 1 << 16;  // map buckets read before giving up (a corrupt or huge map)
  std::size_t output = 4 << 20;   // bytes of text, whatever -n and -d ask for
};

// A value: its type and its bytes, and where they are in the program (0 when the value lives
// in registers or was computed).
struct GoValue {
  const GoType* type = nullptr;
  std::string bytes;
  std::uint64_t address = 0;
};

// What the printer needs from outside: the dynamic types of interface values (from the
// runtime's type data), function names (from pclntab), and goroutine ids (channel waiters).
struct PrintContext {
  const MemoryReader& memory;
  // The type whose runtime descriptor (abi.Type) is at this runtime address; nullptr if unknown.
  std::function<const GoType*(std::uint64_t)> dynamic_type;
  std::function<std::string(std::uint64_t)> function_name;  // "" when none
  std::uint64_t g_goid_offset = 152;                        // runtime.g.goid
  int go_minor = 23;                                        // hchan gained a timer field in 1.23
};

class ValuePrinter {
 public:
  ValuePrinter(const PrintContext& context, PrintLimits limits)
      : context_(context), limits_(limits) {}

  std::string print(const GoValue& value);

  // The value at `address` (its first bytes only for a huge array); nullopt if unreadable.
  std::optional<GoValue> load(const GoType& type, std::uint64_t address) const;
  // The parts of a value, for selectors and indexing: nullopt with `error` set when it has none.
  std::optional<GoValue> field(const GoValue& value, std::string_view name, std::string& error);
  std::optional<GoValue> index(const GoValue& value, std::uint64_t index, std::string& error);
  std::optional<GoValue> deref(const GoValue& value, std::string& error);
  // m[key], the key written as print writes it ("\"b\"", "3").
  std::optional<GoValue> lookup(const GoValue& map, std::string_view key, std::string& error);
  // An interface's dynamic value (its type from the runtime's data); nullopt if nil or unknown.
  std::optional<GoValue> dynamic(const GoValue& interface) const;

 private:
  void write(std::string& out, const GoValue& value, int level, bool top, bool include_type);
  void write_string(std::string& out, std::uint64_t pointer, std::int64_t length);
  void write_elements(std::string& out, const GoType& elem, std::uint64_t base,
                      std::string_view inline_bytes, std::uint64_t length, int level);
  void write_map(std::string& out, const GoValue& value, int level, bool include_type);
  void write_chan(std::string& out, const GoValue& value, bool include_type);
  void write_interface(std::string& out, const GoValue& value, int level, bool include_type);
  void write_time(std::string& out, const GoValue& value);
  template <typename Integer>
  void write_integer(std::string& out, const GoType& type, Integer value);
  // Calls `visit(key, value)` for each entry of the map at runtime address `hmap` until it
  // returns false; false when the walk stopped at bad memory or the bucket budget.
  bool each_entry(const GoType& map, std::uint64_t hmap,
                  const std::function<bool(GoValue, GoValue)>& visit, std::string& error);

  const PrintContext& context_;
  PrintLimits limits_;
  int nesting_ = 0;         // write()s in progress
  bool truncated_ = false;  // the output reached limits_.output
};

// Go's strconv.FormatFloat(f, 'g', -1, bits) and strconv.Quote, as print needs them.
std::string go_float(double value, int bits);
std::string go_quote(std::string_view text);

}  // namespace gostub::symbols
