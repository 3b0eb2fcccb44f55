#include "server/go_registers.hpp"

#include "target/registers.hpp"

namespace gostub::server {

std::optional<GoRegister> go_register(std::uint32_t regno) {
  const auto machine = target::x86_64_registers().size();
  if (regno < machine || regno - machine >= std::size(kGoRegisters)) return std::nullopt;
  return kGoRegisters[regno - machine].which;
}

std::uint32_t go_register_number(GoRegister which) {
  return static_cast<std::uint32_t>(target::x86_64_registers().size()) +
         static_cast<std::uint32_t>(which);
}

}  // namespace gostub::server
