// Go types as gostub's value printer sees them, whichever source described them: the binary's
// DWARF (dwarf_info.hpp) or the runtime's own type data (runtime_types.hpp), which stripped
// binaries keep. A TypeArena owns them; types point at each other (a list node's *Node).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace gostub::symbols {

// internal/abi.Kind, the numbering of both runtime type data and DWARF's DW_AT_go_kind.
enum class GoKind : std::uint8_t {
  kInvalid = 0,
  kBool,
  kInt,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUint,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kUintptr,
  kFloat32,
  kFloat64,
  kComplex64,
  kComplex128,
  kArray,
  kChan,
  kFunc,
  kInterface,
  kMap,
  kPointer,
  kSlice,
  kString,
  kStruct,
  kUnsafePointer,
};

struct GoType;

struct GoField {
  std::string name;
  const GoType* type = nullptr;
  std::uint64_t offset = 0;
};

struct GoType {
  GoKind kind = GoKind::kInvalid;
  std::string name;              // as Go writes it: "main.Point", "[]int", "*main.Node"
  std::uint64_t size = 0;        // of the value itself (a slice's header, a map's pointer)
  const GoType* elem = nullptr;  // pointer, slice, array, chan; a map's value type
  const GoType* key = nullptr;   // map
  std::uint64_t length = 0;      // array
  std::vector<GoField> fields;   // struct
  bool empty_interface = false;  // interface{} (eface) rather than one with methods (iface)
  // Named integer types: the package's constants by value (syscall.Errno's ENOENT), from
  // DWARF; print writes "ENOENT (2)" as Delve does.
  const std::map<std::int64_t, std::string>* constants = nullptr;
  bool direct_interface = false;  // stored in an interface's data word itself (KindDirectIface)
};

// Owns types; addresses stay valid as it grows.
class TypeArena {
 public:
  GoType& make() { return types_.emplace_back(); }

 private:
  std::deque<GoType> types_;
};

}  // namespace gostub::symbols
