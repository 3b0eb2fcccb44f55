// Go's pseudo-registers: numbered after the machine's in the target description (feature
// org.golang.go), so that gdb and lldb show them with the others and gdb can compile them into
// the conditions gostub evaluates (`break f if $goid == 17`). They are not in the `g` packet's
// register file: clients read them with `p`, which gdb does for any register past that file.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace gostub::server {

enum class GoRegister : std::uint8_t {
  kGoid,  // the goroutine the thread runs (0 for none): runtime.Stack's "goroutine N"
  kG,     // that goroutine's runtime.g address (0 for none)
};

struct GoRegisterInfo {
  GoRegister which;
  std::string_view name;
  std::string_view type;  // gdb's type name in the target description
};

inline constexpr GoRegisterInfo kGoRegisters[] = {
    {GoRegister::kGoid, "goid", "int64"},
    {GoRegister::kG, "g", "data_ptr"},
};

// Register number `regno` as a Go register, when it is one.
std::optional<GoRegister> go_register(std::uint32_t regno);
std::uint32_t go_register_number(GoRegister which);

// What the Go registers hold for one thread.
struct GoIdentity {
  std::int64_t goid = 0;
  std::uint64_t g = 0;
  std::uint64_t value(GoRegister which) const {
    return which == GoRegister::kGoid ? static_cast<std::uint64_t>(goid) : g;
  }
};

}  // namespace gostub::server
