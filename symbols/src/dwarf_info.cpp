#include "symbols/dwarf_info.hpp"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace gostub::symbols {

namespace {

// Go's own attributes (cmd/internal/dwarf).
constexpr unsigned kAtGoKind = 0x2900, kAtGoKey = 0x2901, kAtGoElem = 0x2902;
constexpr unsigned kAtGoRuntimeType = 0x2904;
constexpr std::size_t kMaxPieces = 64;

std::optional<std::uint64_t> udata(Dwarf_Die* die, unsigned name) {
  Dwarf_Attribute attribute;
  Dwarf_Word value;
  if (dwarf_attr(die, name, &attribute) == nullptr || dwarf_formudata(&attribute, &value) != 0)
    return std::nullopt;
  return value;
}

std::optional<Dwarf_Die> reference(Dwarf_Die* die, unsigned name) {
  Dwarf_Attribute attribute;
  Dwarf_Die target;
  if (dwarf_attr(die, name, &attribute) == nullptr ||
      dwarf_formref_die(&attribute, &target) == nullptr)
    return std::nullopt;
  return target;
}

std::string die_name(Dwarf_Die* die) {
  const char* name = dwarf_diename(die);
  return name != nullptr ? name : "";
}

// Go writes single location expressions as DW_FORM_block1 in DWARF 4, which libdw reads only
// as DW_FORM_exprloc. A block1's one-byte length is the same bytes as exprloc's ULEB128 length
// while below 128, so the attribute can be read as exprloc.
void as_exprloc(Dwarf_Attribute& attribute) {
  if (attribute.form == DW_FORM_block1 && attribute.valp != nullptr &&
      (*static_cast<const unsigned char*>(attribute.valp) & 0x80) == 0) {
    attribute.form = DW_FORM_exprloc;
  }
}

bool is_type_tag(int tag) {
  return tag == DW_TAG_base_type || tag == DW_TAG_pointer_type || tag == DW_TAG_structure_type ||
         tag == DW_TAG_typedef || tag == DW_TAG_array_type || tag == DW_TAG_subroutine_type;
}

}  // namespace

struct DwarfInfo::Impl {
  int fd = -1;
  Dwarf* dwarf = nullptr;
  bool indexed = false;
  std::unordered_map<std::string, Dwarf_Off> globals, types;
  std::unordered_map<std::uint64_t, Dwarf_Off> by_runtime_type;  // offset into types
  std::unordered_map<Dwarf_Off, std::map<std::int64_t, std::string>> constants;  // by type
  struct Function {
    std::uint64_t low, high;
    Dwarf_Off die;
  };
  std::vector<Function> functions;  // sorted by low
  TypeArena arena;
  std::unordered_map<Dwarf_Off, const GoType*> converted;
  std::unordered_map<std::string, const GoType*> synthesized;  // "*T" made from T

  ~Impl() {
    if (dwarf != nullptr) dwarf_end(dwarf);
    if (fd >= 0) ::close(fd);
  }

  void index() {
    if (indexed) return;
    indexed = true;
    Dwarf_Off offset = 0, next;
    std::size_t header;
    while (dwarf_nextcu(dwarf, offset, &next, &header, nullptr, nullptr, nullptr) == 0) {
      Dwarf_Die cu, child;
      if (dwarf_offdie(dwarf, offset + header, &cu) != nullptr && dwarf_child(&cu, &child) == 0) {
        do {
          const int tag = dwarf_tag(&child);
          if (tag == DW_TAG_variable) {
            globals.emplace(die_name(&child), dwarf_dieoffset(&child));
          } else if (tag == DW_TAG_constant) {
            Dwarf_Attribute attribute;
            Dwarf_Sword value;
            auto type = reference(&child, DW_AT_type);
            if (type && dwarf_attr(&child, DW_AT_const_value, &attribute) != nullptr &&
                dwarf_formsdata(&attribute, &value) == 0) {
              auto name = die_name(&child);  // "syscall.ENOENT": written without its package
              name.erase(0, name.rfind('.') + 1);
              constants[dwarf_dieoffset(&*type)].emplace(value, std::move(name));
            }
          } else if (tag == DW_TAG_subprogram) {
            Dwarf_Addr low, high;
            if (dwarf_lowpc(&child, &low) == 0 && dwarf_highpc(&child, &high) == 0)
              functions.push_back({low, high, dwarf_dieoffset(&child)});
          } else if (is_type_tag(tag)) {
            if (const auto name = die_name(&child); !name.empty())
              types.emplace(name, dwarf_dieoffset(&child));
            Dwarf_Attribute attribute;
            Dwarf_Addr runtime_type;
            if (dwarf_attr(&child, kAtGoRuntimeType, &attribute) != nullptr &&
                dwarf_formaddr(&attribute, &runtime_type) == 0 && runtime_type != 0)
              by_runtime_type.emplace(runtime_type, dwarf_dieoffset(&child));
          }
        } while (dwarf_siblingof(&child, &child) == 0);
      }
      offset = next;
    }
    std::sort(functions.begin(), functions.end(),
              [](const Function& a, const Function& b) { return a.low < b.low; });
  }

  const GoType* type_of(Dwarf_Die* die) {
    const auto at = reference(die, DW_AT_type);
    if (!at) return nullptr;
    auto type_die = *at;
    return convert(&type_die);
  }

  const GoType* convert(Dwarf_Die* die) {
    const auto offset = dwarf_dieoffset(die);
    if (const auto found = converted.find(offset); found != converted.end()) return found->second;
    auto& type = arena.make();
    converted[offset] = &type;  // before the parts: a list node's *Node leads back here
    type.name = die_name(die);
    type.size = udata(die, DW_AT_byte_size).value_or(0);
    const auto go_kind = udata(die, kAtGoKind);
    const auto by_reference = [&](unsigned attribute) -> const GoType* {
      auto target = reference(die, attribute);
      return target ? convert(&*target) : nullptr;
    };
    const int tag = dwarf_tag(die);
    if (go_kind) type.kind = static_cast<GoKind>(*go_kind);
    // Only a package's named types (not int, whose constants are every untyped one).
    if (const auto found = constants.find(offset);
        found != constants.end() && type.name.find('.') != std::string::npos)
      type.constants = &found->second;
    switch (tag) {
      case DW_TAG_base_type:
        if (!go_kind) {
          const auto encoding = udata(die, DW_AT_encoding).value_or(0);
          type.kind = encoding == DW_ATE_boolean ? GoKind::kBool
                      : encoding == DW_ATE_float
                          ? (type.size == 4 ? GoKind::kFloat32 : GoKind::kFloat64)
                      : encoding == DW_ATE_unsigned ? GoKind::kUint64
                                                    : GoKind::kInt64;
        }
        break;
      case DW_TAG_pointer_type:
        type.size = 8;
        type.elem = type_of(die);
        if (!go_kind) type.kind = type.elem == nullptr ? GoKind::kUnsafePointer : GoKind::kPointer;
        break;
      case DW_TAG_subroutine_type:
        type.kind = GoKind::kFunc;
        type.size = 8;
        break;
      case DW_TAG_array_type: {
        type.kind = GoKind::kArray;
        type.elem = type_of(die);
        Dwarf_Die child;
        if (dwarf_child(die, &child) == 0 && dwarf_tag(&child) == DW_TAG_subrange_type) {
          if (const auto count = udata(&child, DW_AT_count)) {
            type.length = *count;
          } else if (const auto upper = udata(&child, DW_AT_upper_bound)) {
            type.length = *upper + 1;
          }
        }
        break;
      }
      case DW_TAG_structure_type: {
        if (!go_kind) type.kind = GoKind::kStruct;
        if (type.kind == GoKind::kSlice) type.elem = by_reference(kAtGoElem);
        Dwarf_Die child;
        if (type.kind == GoKind::kStruct && dwarf_child(die, &child) == 0) {
          do {
            if (dwarf_tag(&child) != DW_TAG_member) continue;
            type.fields.push_back(GoField{die_name(&child), type_of(&child),
                                          udata(&child, DW_AT_data_member_location).value_or(0)});
          } while (dwarf_siblingof(&child, &child) == 0);
        }
        break;
      }
      case DW_TAG_typedef: {
        if (type.kind == GoKind::kMap || type.kind == GoKind::kChan) {
          type.size = 8;
          type.elem = by_reference(kAtGoElem);
          if (type.kind == GoKind::kMap) type.key = by_reference(kAtGoKey);
        } else if (type.kind == GoKind::kInterface) {
          const auto* layout = type_of(die);  // runtime.eface or runtime.iface
          type.size = 16;
          type.empty_interface = layout != nullptr && layout->name == "runtime.eface";
        } else if (const auto* target = type_of(die)) {
          // A name for another type (Go's duplicate typedefs, func types): that type, renamed.
          const auto name = type.name;
          type = *target;
          if (!name.empty()) type.name = name;
        }
        break;
      }
      default:
        break;
    }
    return &type;
  }

  const GoType* named(std::string_view name) {
    index();
    if (const auto found = types.find(std::string(name)); found != types.end()) {
      Dwarf_Die die;
      if (dwarf_offdie(dwarf, found->second, &die) != nullptr) return convert(&die);
    }
    // "*T" where DWARF has only T (no pointer to it was compiled).
    if (name.starts_with("*")) {
      if (const auto found = synthesized.find(std::string(name)); found != synthesized.end())
        return found->second;
      const auto* elem = named(name.substr(1));
      if (elem == nullptr) return nullptr;
      auto& pointer = arena.make();
      pointer.kind = GoKind::kPointer, pointer.name = name, pointer.size = 8, pointer.elem = elem;
      synthesized.emplace(std::string(name), &pointer);
      return &pointer;
    }
    return nullptr;
  }
};

DwarfInfo::DwarfInfo(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DwarfInfo::~DwarfInfo() = default;

std::unique_ptr<DwarfInfo> DwarfInfo::open(const std::string& path, std::string& why_not) {
  auto impl = std::make_unique<Impl>();
  impl->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (impl->fd < 0) {
    why_not = fmt::format("cannot open {}: {}", path, std::strerror(errno));
    return nullptr;
  }
  impl->dwarf = dwarf_begin(impl->fd, DWARF_C_READ);
  if (impl->dwarf == nullptr) {
    why_not = fmt::format("{} has no DWARF ({})", path, dwarf_errmsg(-1));
    return nullptr;
  }
  return std::unique_ptr<DwarfInfo>(new DwarfInfo(std::move(impl)));
}

std::optional<std::pair<DwarfInfo::Variable, std::uint64_t>> DwarfInfo::global(
    std::string_view name) {
  impl_->index();
  const auto found = impl_->globals.find(std::string(name));
  if (found == impl_->globals.end()) return std::nullopt;
  Dwarf_Die die;
  if (dwarf_offdie(impl_->dwarf, found->second, &die) == nullptr) return std::nullopt;
  Dwarf_Attribute attribute;
  Dwarf_Op* ops;
  std::size_t count;
  if (dwarf_attr(&die, DW_AT_location, &attribute) == nullptr) return std::nullopt;
  as_exprloc(attribute);
  if (dwarf_getlocation(&attribute, &ops, &count) != 0 || count != 1 || ops[0].atom != DW_OP_addr)
    return std::nullopt;
  return std::pair(Variable{std::string(name), impl_->type_of(&die), found->second}, ops[0].number);
}

std::string DwarfInfo::function_at(std::uint64_t pc) {
  impl_->index();
  const auto& functions = impl_->functions;
  auto it = std::upper_bound(functions.begin(), functions.end(), pc,
                             [](std::uint64_t p, const Impl::Function& f) { return p < f.low; });
  if (it == functions.begin()) return "";
  --it;
  if (pc >= it->high) return "";
  Dwarf_Die die;
  return dwarf_offdie(impl_->dwarf, it->die, &die) != nullptr ? die_name(&die) : "";
}

std::vector<DwarfInfo::Variable> DwarfInfo::locals(std::uint64_t pc) {
  impl_->index();
  std::vector<Variable> out;
  const auto& functions = impl_->functions;
  auto it = std::upper_bound(functions.begin(), functions.end(), pc,
                             [](std::uint64_t p, const Impl::Function& f) { return p < f.low; });
  if (it == functions.begin()) return out;
  --it;
  if (pc >= it->high) return out;
  Dwarf_Die function;
  if (dwarf_offdie(impl_->dwarf, it->die, &function) == nullptr) return out;
  // The function's variables, then those of each lexical block around pc, innermost last;
  // reversed so that an inner declaration hides an outer one of the same name.
  std::vector<Variable> found;
  std::vector<Dwarf_Die> scopes{function};
  for (std::size_t depth = 0; depth < scopes.size() && depth < 64; ++depth) {
    Dwarf_Die child;
    if (dwarf_child(&scopes[depth], &child) != 0) continue;
    do {
      const int tag = dwarf_tag(&child);
      if (tag == DW_TAG_variable || tag == DW_TAG_formal_parameter) {
        found.push_back(
            Variable{die_name(&child), impl_->type_of(&child), dwarf_dieoffset(&child)});
      } else if (tag == DW_TAG_lexical_block && dwarf_haspc(&child, pc) == 1) {
        scopes.push_back(child);
      }
    } while (dwarf_siblingof(&child, &child) == 0);
  }
  out.assign(found.rbegin(), found.rend());
  return out;
}

Result<VariablePlace> DwarfInfo::place(const Variable& variable, const FrameContext& frame) {
  Dwarf_Die die;
  Dwarf_Attribute attribute;
  if (dwarf_offdie(impl_->dwarf, variable.die, &die) == nullptr ||
      dwarf_attr(&die, DW_AT_location, &attribute) == nullptr) {
    return fail(fmt::format("{}: optimized out (no location)", variable.name));
  }
  as_exprloc(attribute);
  Dwarf_Op* ops = nullptr;
  std::size_t count = 0;
  if (dwarf_getlocation_addr(&attribute, frame.pc, &ops, &count, 1) <= 0 || count == 0) {
    return fail(fmt::format("{}: optimized out at this pc", variable.name));
  }
  // A small DWARF stack machine: what Go emits (call_frame_cfa, fbreg, addr, regN, piece).
  std::vector<std::uint64_t> stack;
  int in_register = -1;  // the register the value is in, when it is
  VariablePlace place;
  std::size_t pieces = 0;
  const auto register_bytes = [&](int number) -> Result<std::string> {
    auto bytes = frame.reg ? frame.reg(number) : std::nullopt;
    if (!bytes)
      return fail(
          fmt::format("{}: in a register this frame no longer has (unavailable)", variable.name));
    return *bytes;
  };
  for (std::size_t i = 0; i < count; ++i) {
    const auto& op = ops[i];
    if (op.atom >= DW_OP_reg0 && op.atom <= DW_OP_reg31) {
      in_register = op.atom - DW_OP_reg0;
    } else if (op.atom == DW_OP_regx) {
      in_register = static_cast<int>(op.number);
    } else if (op.atom == DW_OP_call_frame_cfa) {
      stack.push_back(frame.cfa);
    } else if (op.atom == DW_OP_fbreg) {
      stack.push_back(frame.cfa + op.number);  // Go's frame base is the CFA
    } else if (op.atom == DW_OP_addr) {
      stack.push_back(op.number);
    } else if (op.atom == DW_OP_consts || op.atom == DW_OP_constu) {
      stack.push_back(op.number);
    } else if (op.atom == DW_OP_plus_uconst && !stack.empty()) {
      stack.back() += op.number;
    } else if (op.atom == DW_OP_plus && stack.size() >= 2) {
      const auto top = stack.back();
      stack.pop_back();
      stack.back() += top;
    } else if (op.atom == DW_OP_piece) {
      if (++pieces > kMaxPieces)
        return fail(fmt::format("{}: location too complex", variable.name));
      std::string bytes(op.number, '\0');
      if (in_register >= 0) {
        auto value = register_bytes(in_register);
        if (!value) return std::unexpected(value.error());
        std::memcpy(bytes.data(), value->data(),
                    std::min<std::size_t>(bytes.size(), value->size()));
      } else if (!stack.empty()) {
        // Read by the caller, who has the memory.
        place.from_memory.push_back({place.bytes.size(), stack.back(), op.number});
      } else {
        return fail(fmt::format("{}: partly optimized out", variable.name));
      }
      place.bytes += bytes;
      in_register = -1;
      stack.clear();
    } else {
      return fail(fmt::format("{}: location operation {:#x} not supported (unavailable)",
                              variable.name, op.atom));
    }
  }
  if (pieces > 0) return place;
  if (in_register >= 0) {
    auto value = register_bytes(in_register);
    if (!value) return std::unexpected(value.error());
    place.bytes = *value;
    return place;
  }
  if (stack.empty()) return fail(fmt::format("{}: optimized out", variable.name));
  place.address = stack.back();
  return place;
}

const GoType* DwarfInfo::type_named(std::string_view name) {
  return impl_->named(name);
}

const GoType* DwarfInfo::runtime_type(std::uint64_t offset, bool direct_interface) {
  impl_->index();
  const auto found = impl_->by_runtime_type.find(offset);
  Dwarf_Die die;
  if (found == impl_->by_runtime_type.end() ||
      dwarf_offdie(impl_->dwarf, found->second, &die) == nullptr)
    return nullptr;
  auto* type = const_cast<GoType*>(impl_->convert(&die));  // the arena's own, mutable
  type->direct_interface = direct_interface;
  return type;
}

}  // namespace gostub::symbols
