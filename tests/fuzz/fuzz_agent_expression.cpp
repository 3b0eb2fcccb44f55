// Agent expressions: validation of any bytecode, and evaluation of what validates against
// registers and a small memory derived from the input, within the evaluator's bounds.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "protocol/agent_expression.hpp"

using namespace gostub::protocol;

namespace {

class Context : public AgentContext {
 public:
  explicit Context(std::string_view memory) : memory_(memory) {}
  std::optional<std::uint64_t> register_value(std::uint32_t regno) const override {
    if (regno > 60) return std::nullopt;
    return 0x1000 + regno * 8;
  }
  bool read_memory(std::uint64_t address, std::span<char> out) const override {
    if (address < kBase || address - kBase > memory_.size() ||
        out.size() > memory_.size() - (address - kBase)) {
      return false;
    }
    std::memcpy(out.data(), memory_.data() + (address - kBase), out.size());
    return true;
  }

 private:
  static constexpr std::uint64_t kBase = 0x1000;
  std::string_view memory_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Context context(bytes);
  if (auto expression = AgentExpression::validate(std::string(bytes))) {
    (void)expression->evaluate(context);
  }
  // The same bytes as a Z0 packet's condition list (";X len,HEX…").
  (void)parse_breakpoint_agent_lists(bytes);
  return 0;
}
