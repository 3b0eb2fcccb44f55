#include "protocol/agent_expression.hpp"

#include <array>
#include <charconv>

#include "protocol/hex.hpp"

namespace gostub::protocol {

namespace {

enum Op : std::uint8_t {
  kAdd = 0x02,
  kSub,
  kMul,
  kDivSigned,
  kDivUnsigned,
  kRemSigned,
  kRemUnsigned,
  kLsh,
  kRshSigned,
  kRshUnsigned,
  kTrace,
  kTraceQuick,
  kLogNot,
  kBitAnd,
  kBitOr,
  kBitXor,
  kBitNot,
  kEqual,
  kLessSigned,
  kLessUnsigned,
  kExt,
  kRef8,
  kRef16,
  kRef32,
  kRef64,
  kIfGoto = 0x20,
  kGoto,
  kConst8,
  kConst16,
  kConst32,
  kConst64,
  kReg,
  kEnd,
  kDup,
  kPop,
  kZeroExt,
  kSwap,
  kGetv,
  kSetv,
  kTracev,
  kTracenz,
  kTrace16,
  kPick = 0x32,
  kRot,
  kPrintf,  // nargs (1 byte), format length (2 bytes, NUL included), format
};

// Operand bytes of each supported opcode; -1: not supported here (floating point, which gdb
// never compiles for a target; printf's operands vary: instruction_size).
int operand_size(std::uint8_t op) {
  switch (op) {
    case kAdd:
    case kSub:
    case kMul:
    case kDivSigned:
    case kDivUnsigned:
    case kRemSigned:
    case kRemUnsigned:
    case kLsh:
    case kRshSigned:
    case kRshUnsigned:
    case kLogNot:
    case kBitAnd:
    case kBitOr:
    case kBitXor:
    case kBitNot:
    case kEqual:
    case kLessSigned:
    case kLessUnsigned:
    case kRef8:
    case kRef16:
    case kRef32:
    case kRef64:
    case kEnd:
    case kDup:
    case kPop:
    case kSwap:
    case kRot:
    case kTrace:
    case kTracenz:
      return 0;
    case kExt:
    case kZeroExt:
    case kConst8:
    case kPick:
    case kTraceQuick:
      return 1;
    case kIfGoto:
    case kGoto:
    case kConst16:
    case kReg:
    case kTrace16:
    case kGetv:
    case kSetv:
    case kTracev:
      return 2;
    case kConst32:
      return 4;
    case kConst64:
      return 8;
    default:
      return -1;
  }
}

// The size of the instruction at `at` (printf's operands vary); 0 when it runs off the end.
std::size_t instruction_size(std::string_view code, std::size_t at) {
  const auto op = static_cast<std::uint8_t>(code[at]);
  if (op == kPrintf) {
    if (at + 4 > code.size()) return 0;
    const auto length = static_cast<std::size_t>(static_cast<std::uint8_t>(code[at + 2])) << 8 |
                        static_cast<std::uint8_t>(code[at + 3]);
    return at + 4 + length <= code.size() ? 4 + length : 0;
  }
  const int size = operand_size(op);
  if (size < 0 || at + 1 + static_cast<std::size_t>(size) > code.size()) return 0;
  return 1 + static_cast<std::size_t>(size);
}

constexpr std::size_t kMaxStack = 1024;
constexpr std::size_t kMaxSteps = 100'000;  // backward gotos may loop

std::uint64_t big_endian(std::string_view bytes) {
  std::uint64_t value = 0;
  for (const char c : bytes) value = value << 8 | static_cast<std::uint8_t>(c);
  return value;
}

std::int64_t extend(std::int64_t value, unsigned bits, bool sign) {
  if (bits == 0 || bits >= 64) return value;
  const auto mask = (std::uint64_t{1} << bits) - 1;
  auto low = static_cast<std::uint64_t>(value) & mask;
  if (sign && (low >> (bits - 1)) != 0) low |= ~mask;
  return static_cast<std::int64_t>(low);
}

}  // namespace

std::expected<AgentExpression, std::string> AgentExpression::validate(std::string bytecode) {
  if (bytecode.empty()) return std::unexpected("empty expression");
  std::vector<bool> starts(bytecode.size(), false);
  std::vector<std::size_t> targets;
  bool has_end = false;
  for (std::size_t at = 0; at < bytecode.size();) {
    const auto op = static_cast<std::uint8_t>(bytecode[at]);
    if (op != kPrintf && operand_size(op) < 0)
      return std::unexpected("unsupported opcode " + hex_number(op));
    const auto size = instruction_size(bytecode, at);
    if (size == 0) return std::unexpected("operand past the end");
    if (op == kPrintf && (size == 4 || bytecode[at + size - 1] != '\0'))
      return std::unexpected("printf format is not NUL-terminated");
    starts[at] = true;
    if (op == kIfGoto || op == kGoto) targets.push_back(big_endian(bytecode.substr(at + 1, 2)));
    if (op == kEnd) has_end = true;
    at += size;
  }
  if (!has_end) return std::unexpected("no end opcode");
  for (const auto target : targets) {
    if (target >= bytecode.size() || !starts[target])
      return std::unexpected("jump to " + hex_number(target) + " is not an instruction");
  }
  return AgentExpression(std::move(bytecode));
}

std::expected<std::int64_t, std::string> AgentExpression::evaluate(
    const AgentContext& context) const {
  auto result = run(context);
  if (!result) return std::unexpected(result.error());
  if (!*result) return std::unexpected("stack empty at end");
  return **result;
}

std::expected<void, std::string> AgentExpression::execute(const AgentContext& context) const {
  auto result = run(context);
  if (!result) return std::unexpected(result.error());
  return {};
}

std::expected<std::optional<std::int64_t>, std::string> AgentExpression::run(
    const AgentContext& context) const {
  std::array<std::int64_t, kMaxStack> stack;
  std::size_t depth = 0;
  const auto& code = bytecode_;
  const auto need = [&](std::size_t n) { return depth >= n; };
  std::size_t pc = 0;
  for (std::size_t steps = 0; steps < kMaxSteps; ++steps) {
    if (pc >= code.size()) return std::unexpected("ran off the end");
    const auto op = static_cast<std::uint8_t>(code[pc]);
    const auto next = pc + instruction_size(code, pc);
    const auto size = op == kPrintf ? 0 : next - pc - 1;
    const auto operand = big_endian(std::string_view(code).substr(pc + 1, size));
    const bool pops_two = (op >= kAdd && op <= kRshUnsigned) || op == kBitAnd || op == kBitOr ||
                          op == kBitXor || op == kEqual || op == kLessSigned ||
                          op == kLessUnsigned || op == kSwap || op == kTracenz || op == kTrace;
    if (pops_two && !need(2)) return std::unexpected("stack underflow");
    const bool pushes = op == kConst8 || op == kConst16 || op == kConst32 || op == kConst64 ||
                        op == kReg || op == kDup || op == kPick || op == kGetv;
    if (pushes && depth >= kMaxStack) return std::unexpected("stack overflow");
    auto& top = stack[depth == 0 ? 0 : depth - 1];
    const auto a = depth >= 2 ? stack[depth - 2] : 0;
    const auto ua = static_cast<std::uint64_t>(a), ub = static_cast<std::uint64_t>(top);
    const auto binary = [&](std::int64_t value) {
      --depth;
      stack[depth - 1] = value;
    };
    switch (op) {
      case kAdd:
        binary(static_cast<std::int64_t>(ua + ub));
        break;
      case kSub:
        binary(static_cast<std::int64_t>(ua - ub));
        break;
      case kMul:
        binary(static_cast<std::int64_t>(ua * ub));
        break;
      case kDivSigned:
      case kDivUnsigned:
      case kRemSigned:
      case kRemUnsigned:
        if (top == 0) return std::unexpected("division by zero");
        if ((op == kDivSigned || op == kRemSigned) && top == -1) {
          binary(op == kDivSigned ? static_cast<std::int64_t>(0 - ua) : 0);  // no overflow trap
        } else {
          binary(op == kDivSigned     ? a / top
                 : op == kRemSigned   ? a % top
                 : op == kDivUnsigned ? static_cast<std::int64_t>(ua / ub)
                                      : static_cast<std::int64_t>(ua % ub));
        }
        break;
      case kLsh:
        binary(ub >= 64 ? 0 : static_cast<std::int64_t>(ua << ub));
        break;
      case kRshSigned:
        binary(ub >= 64 ? (a < 0 ? -1 : 0) : a >> ub);
        break;
      case kRshUnsigned:
        binary(ub >= 64 ? 0 : static_cast<std::int64_t>(ua >> ub));
        break;
      case kBitAnd:
        binary(a & top);
        break;
      case kBitOr:
        binary(a | top);
        break;
      case kBitXor:
        binary(a ^ top);
        break;
      case kEqual:
        binary(a == top);
        break;
      case kLessSigned:
        binary(a < top);
        break;
      case kLessUnsigned:
        binary(ua < ub);
        break;
      case kLogNot:
      case kBitNot:
      case kExt:
      case kZeroExt:
      case kRef8:
      case kRef16:
      case kRef32:
      case kRef64: {
        if (!need(1)) return std::unexpected("stack underflow");
        if (op == kLogNot) top = top == 0;
        if (op == kBitNot) top = ~top;
        if (op == kExt || op == kZeroExt)
          top = extend(top, static_cast<unsigned>(operand), op == kExt);
        if (op >= kRef8 && op <= kRef64) {
          const std::size_t bytes = std::size_t{1} << (op - kRef8);
          std::array<char, 8> buffer{};
          if (!context.read_memory(ub, std::span(buffer.data(), bytes)))
            return std::unexpected("cannot read memory at " + hex_number(ub));
          std::uint64_t value = 0;
          for (std::size_t i = bytes; i-- > 0;)
            value = value << 8 | static_cast<std::uint8_t>(buffer[i]);
          top = static_cast<std::int64_t>(value);  // little-endian target, zero-extended
        }
        break;
      }
      case kIfGoto:
        if (!need(1)) return std::unexpected("stack underflow");
        --depth;
        if (stack[depth] != 0) {
          pc = operand;
          continue;
        }
        break;
      case kGoto:
        pc = operand;
        continue;
      case kConst8:
      case kConst16:
      case kConst32:
      case kConst64:
        stack[depth++] = static_cast<std::int64_t>(operand);
        break;
      case kReg: {
        const auto value = context.register_value(static_cast<std::uint32_t>(operand));
        if (!value) return std::unexpected("no register " + std::to_string(operand));
        stack[depth++] = static_cast<std::int64_t>(*value);
        break;
      }
      case kEnd:
        if (!need(1)) return std::optional<std::int64_t>();
        return std::optional<std::int64_t>(stack[depth - 1]);
      case kPrintf: {
        // gdb pushes the arguments last first, then the channel and the function (unused
        // here: the text goes to the client's console).
        const auto count = static_cast<std::uint8_t>(code[pc + 1]);
        if (!need(std::size_t{count} + 2)) return std::unexpected("stack underflow");
        depth -= 2;
        std::array<std::int64_t, 256> args{};
        for (std::size_t i = 0; i < count; ++i) args[i] = stack[--depth];
        const auto format = std::string_view(code).substr(pc + 4, next - pc - 5);
        auto text = format_agent_printf(format, std::span(args.data(), count), context);
        if (!text) return std::unexpected(text.error());
        context.print(*text);
        break;
      }
      case kDup:
        if (!need(1)) return std::unexpected("stack underflow");
        stack[depth] = stack[depth - 1];
        ++depth;
        break;
      case kPop:
        if (!need(1)) return std::unexpected("stack underflow");
        --depth;
        break;
      case kSwap:
        std::swap(stack[depth - 1], stack[depth - 2]);
        break;
      case kPick:
        if (!need(operand + 1)) return std::unexpected("stack underflow");
        stack[depth] = stack[depth - 1 - operand];
        ++depth;
        break;
      case kRot:
        if (!need(3)) return std::unexpected("stack underflow");
        std::swap(stack[depth - 1], stack[depth - 3]);  // a b c -> c b a
        std::swap(stack[depth - 2], stack[depth - 1]);  // -> c a b
        break;
      case kTrace:
      case kTracenz:
        // addr size => (trace state: the memory goes into the frame)
        if (!context.collect_memory(ua, ub, op == kTracenz))
          return std::unexpected("cannot collect memory at " + hex_number(ua));
        depth -= 2;
        break;
      case kTraceQuick:
      case kTrace16:
        // addr => addr
        if (!need(1)) return std::unexpected("stack underflow");
        if (!context.collect_memory(ub, operand, false))
          return std::unexpected("cannot collect memory at " + hex_number(ub));
        break;
      case kGetv: {
        const auto value = context.variable(static_cast<std::uint32_t>(operand));
        if (!value) return std::unexpected("no trace state variable " + std::to_string(operand));
        stack[depth++] = *value;
        break;
      }
      case kSetv:
        if (!need(1)) return std::unexpected("stack underflow");
        if (!context.set_variable(static_cast<std::uint32_t>(operand), top))
          return std::unexpected("no trace state variable " + std::to_string(operand));
        break;
      case kTracev:
        if (!context.collect_variable(static_cast<std::uint32_t>(operand)))
          return std::unexpected("no trace state variable " + std::to_string(operand));
        break;
      default:
        return std::unexpected("unsupported opcode " + hex_number(op));
    }
    pc = next;
  }
  return std::unexpected("too many steps");
}

namespace {

// "X len,HEX" at the start of `text`: the expression, validated; `text` moves past it.
std::expected<AgentExpression, std::string> take_expression(std::string_view& text) {
  if (!text.starts_with("X")) return std::unexpected("expected X LEN,BYTES");
  text.remove_prefix(1);
  const auto comma = text.find(',');
  if (comma == std::string_view::npos) return std::unexpected("expected X LEN,BYTES");
  const auto length = parse_hex_number(text.substr(0, comma));
  text.remove_prefix(comma + 1);
  if (!length || *length > text.size() / 2) {
    return std::unexpected("expression length does not match its bytes");
  }
  auto bytes = from_hex(text.substr(0, *length * 2));
  if (!bytes) return std::unexpected("expression bytes are not hex");
  text.remove_prefix(*length * 2);
  return AgentExpression::validate(std::move(*bytes));
}

}  // namespace

std::expected<BreakpointAgentLists, std::string> parse_breakpoint_agent_lists(
    std::string_view text) {
  BreakpointAgentLists out;
  bool in_commands = false;
  while (!text.empty()) {
    if (text.front() == ';') {
      text.remove_prefix(1);
      continue;
    }
    if (text.starts_with("cmds:")) {
      text.remove_prefix(5);
      const auto comma = text.find(',');
      const auto persist = parse_hex_number(text.substr(0, comma));
      if (comma == std::string_view::npos || !persist) {
        return std::unexpected("expected cmds:PERSIST,");
      }
      out.persist = *persist != 0;
      text.remove_prefix(comma + 1);
      in_commands = true;
      continue;
    }
    auto expression = take_expression(text);
    if (!expression) return std::unexpected(expression.error());
    (in_commands ? out.commands : out.conditions).push_back(std::move(*expression));
  }
  return out;
}

}  // namespace gostub::protocol
