// `monitor print [-g GOROUTINE] [-f FRAME] [-n ELEMENTS] [-d DEPTH] [-s STRING] EXPR`: a Go
// value written as Delve's print writes it. EXPR is a local or argument of the frame, a
// package variable, or `(TYPE)ADDR`, with `.field`, `[index]`, `[key]` and `*` on top. Names
// and types come from DWARF when the binary has it, else from the runtime's own type data.
#include <fmt/format.h>

#include <charconv>
#include <cstring>

#include "protocol/hex.hpp"
#include "server/monitor.hpp"
#include "symbols/value_printer.hpp"
#include "target/registers.hpp"

namespace gostub::server {

namespace {

using symbols::GoValue;

constexpr std::string_view kUsage =
    "usage: monitor print [-g GOROUTINE] [-f FRAME] [-n ELEMENTS] [-d DEPTH] [-s STRING] EXPR\n";

bool identifier_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '/' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Where a frame is: its pc and sp (runtime), its registers when it is a thread's innermost.
struct FrameAt {
  std::uint64_t pc = 0, sp = 0;
  bool inlined = false;
  std::optional<std::string> registers;
};

class Evaluator {
 public:
  Evaluator(GoState& go, symbols::ValuePrinter& printer, symbols::DwarfInfo* dwarf,
            std::optional<FrameAt> frame)
      : go_(go), printer_(printer), dwarf_(dwarf), frame_(std::move(frame)) {}

  std::optional<GoValue> evaluate(std::string_view text, std::string& error) {
    std::size_t stars = 0;
    while (!text.empty() && (text.front() == '*' || text.front() == ' ')) {
      stars += text.front() == '*';
      text.remove_prefix(1);
    }
    std::optional<GoValue> value;
    std::size_t at = 0;
    if (text.starts_with("(")) {
      value = typed_address(text, at, error);
    } else {
      value = named(text, at, error);
    }
    // Postfix: .field, [index], [key].
    while (value && at < text.size()) {
      if (text[at] == '.') {
        auto end = at + 1;
        while (end < text.size() && identifier_char(text[end]) && text[end] != '/') ++end;
        value = printer_.field(*value, text.substr(at + 1, end - at - 1), error);
        at = end;
      } else if (text[at] == '[') {
        const auto close = find_close(text, at);
        if (close == std::string_view::npos) {
          error = "missing ']'";
          return std::nullopt;
        }
        const auto inside = text.substr(at + 1, close - at - 1);
        if (value->type->kind == symbols::GoKind::kMap) {
          value = printer_.lookup(*value, inside, error);
        } else if (const auto position = protocol::parse_number(inside)) {
          value = printer_.index(*value, *position, error);
        } else {
          error = fmt::format("'{}' is not an index gostub can read", inside);
          return std::nullopt;
        }
        at = close + 1;
      } else {
        error = fmt::format("cannot read '{}' in the expression", text.substr(at));
        return std::nullopt;
      }
    }
    for (; value && stars > 0; --stars) value = printer_.deref(*value, error);
    return value;
  }

 private:
  static std::size_t find_close(std::string_view text, std::size_t open) {
    bool quoted = false;
    for (auto i = open + 1; i < text.size(); ++i) {
      if (text[i] == '\\' && quoted) {
        ++i;
      } else if (text[i] == '"') {
        quoted = !quoted;
      } else if (text[i] == ']' && !quoted) {
        return i;
      }
    }
    return std::string_view::npos;
  }

  const symbols::GoType* type_named(std::string_view name, std::string& error) {
    if (dwarf_ != nullptr) {
      if (const auto* type = dwarf_->type_named(name)) return type;
    }
    auto* runtime_types = go_.runtime_types();
    if (runtime_types != nullptr) {
      if (const auto* type = runtime_types->named(name)) return type;
    }
    error = fmt::format("no type {} in the program{}", name,
                        runtime_types != nullptr && !runtime_types->error().empty()
                            ? " (" + runtime_types->error() + ")"
                            : "");
    return nullptr;
  }

  // (TYPE)ADDR
  std::optional<GoValue> typed_address(std::string_view text, std::size_t& at, std::string& error) {
    int depth = 0;
    std::size_t close = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      depth += text[i] == '(' ? 1 : text[i] == ')' ? -1 : 0;
      if (depth == 0) {
        close = i;
        break;
      }
    }
    if (close == 0) {
      error = "missing ')' after the type";
      return std::nullopt;
    }
    const auto type_name = text.substr(1, close - 1);
    auto end = close + 1;
    while (end < text.size() && (std::isxdigit(static_cast<unsigned char>(text[end])) != 0 ||
                                 text[end] == 'x' || text[end] == 'X'))
      ++end;
    const auto address = protocol::parse_number(text.substr(close + 1, end - close - 1));
    if (!address) {
      error = fmt::format("'{}' is not an address", text.substr(close + 1, end - close - 1));
      return std::nullopt;
    }
    at = end;
    const auto* type = type_named(type_name, error);
    if (type == nullptr) return std::nullopt;
    if (type->kind == symbols::GoKind::kPointer) {
      // (*T)ADDR: a pointer with that value, as Go's conversion of an address would be.
      std::string bytes(8, '\0');
      std::memcpy(bytes.data(), &*address, 8);
      return GoValue{type, bytes, 0};
    }
    auto value = printer_.load(*type, *address);
    if (!value) error = fmt::format("cannot read memory at {:#x}", *address);
    return value;
  }

  std::optional<GoValue> named(std::string_view text, std::size_t& at, std::string& error) {
    auto end = std::size_t{0};
    while (end < text.size() && identifier_char(text[end])) ++end;
    if (end == 0) {
      error = fmt::format("cannot read '{}'; see 'monitor help'", text);
      return std::nullopt;
    }
    const auto first = text.substr(0, end);
    if (dwarf_ == nullptr) {
      error = fmt::format(
          "{}: the binary has no DWARF (stripped), so no variable names; "
          "print (TYPE)ADDR instead",
          first);
      return std::nullopt;
    }
    // A local or argument of the frame; an escaped one is "&name", a pointer to it.
    if (frame_) {
      std::string why;
      if (auto local = local_named(first, why)) {
        at = end;
        return local;
      }
      if (!why.empty()) {
        error = why;
        return std::nullopt;
      }
    }
    // A package variable: the longest "pkg.name" prefix that is one, else one of the frame's
    // package.
    for (auto dot = text.find('.', end); dot != std::string_view::npos;) {
      auto stop = dot + 1;
      while (stop < text.size() && identifier_char(text[stop])) ++stop;
      if (auto global = global_named(text.substr(0, stop), error)) {
        at = stop;
        return global;
      }
      dot = text.find('.', stop);
      if (stop < text.size() && text[stop] != '.') break;
    }
    if (!package_.empty()) {
      if (auto global = global_named(package_ + "." + std::string(first), error)) {
        at = end;
        return global;
      }
    }
    if (error.empty()) {
      error = fmt::format("no variable {} {}", first,
                          frame_ ? "in this frame or package" : "in the program");
    }
    return std::nullopt;
  }

  std::optional<GoValue> global_named(std::string_view name, std::string& error) {
    const auto global = dwarf_->global(name);
    if (!global || global->first.type == nullptr) return std::nullopt;
    const auto address = global->second + go_.load_bias();
    auto value = printer_.load(*global->first.type, address);
    if (!value) error = fmt::format("cannot read {} at {:#x}", name, address);
    return value;
  }

 public:
  std::string package_;  // of the frame's function, for unqualified package variables

  std::optional<GoValue> local_named(std::string_view name, std::string& why) {
    const auto bias = go_.load_bias();
    // An outer frame's pc is a return address: look the call up, one byte before it.
    const auto pc = frame_->pc - bias - (frame_->registers ? 0 : 1);
    const auto variables = dwarf_->locals(pc);
    const auto function = dwarf_->function_at(pc);
    if (const auto dot = function.rfind(
            '.', function.find('(') == std::string::npos ? std::string::npos : function.find('('));
        dot != std::string::npos) {
      package_ = function.substr(0, dot);
    }
    const auto escaped = "&" + std::string(name);
    for (const auto& variable : variables) {
      if (variable.name != name && variable.name != escaped) continue;
      if (variable.type == nullptr) {
        why = fmt::format("{}: its type is unknown", name);
        return std::nullopt;
      }
      if (frame_->inlined) {
        why = fmt::format("{}: variables of inlined calls are not supported", name);
        return std::nullopt;
      }
      std::string why_not;
      const auto* lines = &go_.binary(why_not)->lines();
      const auto delta = lines->stack_delta(frame_->pc - bias - (frame_->registers ? 0 : 1));
      symbols::FrameContext context;
      context.pc = pc;
      context.cfa = frame_->sp + static_cast<std::uint64_t>(delta.value_or(0)) + 8;
      if (frame_->registers) {
        context.reg = [file = *frame_->registers](int number) -> std::optional<std::string> {
          for (const auto& info : target::x86_64_registers()) {
            if (info.dwarf != number || info.offset + info.bitsize / 8 > file.size()) continue;
            return file.substr(info.offset, std::min<std::size_t>(info.bitsize / 8, 8));
          }
          return std::nullopt;
        };
      }
      const auto place = dwarf_->place(variable, context);
      if (!place) {
        why = place.error().message;
        return std::nullopt;
      }
      std::optional<GoValue> value;
      if (place->address) {
        value = printer_.load(*variable.type, *place->address);
        if (!value) why = fmt::format("{}: cannot read memory at {:#x}", name, *place->address);
      } else {
        auto bytes = place->bytes;
        for (const auto& piece : place->from_memory) {
          if (piece.offset + piece.size > bytes.size() ||
              !go_.memory().read(piece.address,
                                 std::span(bytes.data() + piece.offset, piece.size))) {
            why = fmt::format("{}: cannot read memory at {:#x}", name, piece.address);
            return std::nullopt;
          }
        }
        bytes.resize(variable.type->size, '\0');
        value = GoValue{variable.type, bytes, 0};
      }
      if (value && variable.name == escaped) value = printer_.deref(*value, why);
      return value;
    }
    return std::nullopt;
  }

 private:
  GoState& go_;
  symbols::ValuePrinter& printer_;
  symbols::DwarfInfo* dwarf_;
  std::optional<FrameAt> frame_;
};

}  // namespace

std::string MonitorCommands::print(Program& program, GoState& go, std::string_view arguments,
                                   std::optional<ClientThread> selected) {
  std::optional<std::int64_t> goroutine_id;
  std::size_t frame_number = 0;
  symbols::PrintLimits limits;
  // Options first, each with a number.
  while (arguments.starts_with("-")) {
    const auto space = arguments.find(' ');
    if (space == std::string_view::npos) return std::string(kUsage);
    const auto option = arguments.substr(0, space);
    auto rest = arguments.substr(space + 1);
    while (rest.starts_with(" ")) rest.remove_prefix(1);
    const auto value_end = std::min(rest.find(' '), rest.size());
    const auto value = protocol::parse_number(rest.substr(0, value_end));
    if (!value) return fmt::format("monitor print: {} takes a number\n{}", option, kUsage);
    if (option == "-g") {
      goroutine_id = static_cast<std::int64_t>(*value);
    } else if (option == "-f") {
      frame_number = *value;
    } else if (option == "-n") {
      limits.elements = std::min<std::uint64_t>(*value, 1'000'000);
    } else if (option == "-d") {
      limits.depth = static_cast<int>(std::min<std::uint64_t>(*value, 16));
    } else if (option == "-s") {
      limits.string = std::min<std::uint64_t>(*value, 1 << 20);
    } else {
      return fmt::format("monitor print: unknown option {}\n{}", option, kUsage);
    }
    arguments = rest.substr(value_end);
    while (arguments.starts_with(" ")) arguments.remove_prefix(1);
  }
  if (arguments.empty()) return std::string(kUsage);
  std::string why_not;
  const auto* binary = go.binary(why_not);
  const auto* reader = go.reader();
  if (binary == nullptr || reader == nullptr) return fmt::format("gostub: {}\n", why_not);
  auto* dwarf = go.dwarf(why_not);
  const auto bias = go.load_bias();
  // The frame: of goroutine -g, or of the selected thread.
  std::optional<FrameAt> frame;
  if (goroutine_id) {
    if (go.goroutines(why_not) == nullptr) return fmt::format("gostub: {}\n", why_not);
    const auto* goroutine = go.goroutine(*goroutine_id);
    if (goroutine == nullptr)
      return fmt::format("no goroutine {} (or it is dead)\n", *goroutine_id);
    frame = FrameAt{goroutine->pc, goroutine->sp, false, std::nullopt};
    if (goroutine->thread != 0) {
      if (auto file =
              program.registers(ClientThread::os_thread(static_cast<pid_t>(goroutine->thread))))
        frame->registers = std::move(*file);
    }
  } else if (selected) {
    if (auto file = program.registers(*selected)) {
      const auto pc = target::register_value(*file, target::regno::kRip);
      const auto sp = target::register_value(*file, target::regno::kRsp);
      frame = FrameAt{pc, sp, false, std::move(*file)};
    }
  }
  if (frame && frame_number > 0) {
    const auto frames = reader->stack(go.memory(), frame->pc, frame->sp, frame_number + 1);
    if (frames.size() <= frame_number) {
      return fmt::format("no frame {}: the stack has {} frames\n", frame_number, frames.size());
    }
    frame = FrameAt{frames[frame_number].pc, frames[frame_number].sp, frames[frame_number].inlined,
                    std::nullopt};
  } else if (frame) {
    const auto frames = reader->stack(go.memory(), frame->pc, frame->sp, 1);
    frame->inlined = !frames.empty() && frames[0].inlined;
  }
  auto* runtime_types = go.runtime_types();
  const auto types_base = reader->runtime().types_base(go.memory());
  const auto minor = binary->build_info() ? binary->build_info()->go_minor() : std::nullopt;
  symbols::PrintContext context{
      go.memory(),
      [runtime_types, dwarf, types_base](std::uint64_t type) -> const symbols::GoType* {
        const auto* runtime_type = runtime_types != nullptr ? runtime_types->at(type) : nullptr;
        // DWARF's name and layout when it has the type (Delve's names: full import paths).
        if (dwarf != nullptr && types_base && runtime_type != nullptr && type >= *types_base) {
          if (const auto* described =
                  dwarf->runtime_type(type - *types_base, runtime_type->direct_interface))
            return described;
        }
        return runtime_type;
      },
      [binary, bias](std::uint64_t pc) {
        const auto function = binary->lines().find(pc - bias);
        return function && function->entry == pc - bias
                   ? std::string(binary->lines().name(*function))
                   : std::string();
      },
      reader->layout().g_goid, minor.value_or(23)};
  symbols::ValuePrinter printer(context, limits);
  Evaluator evaluator(go, printer, dwarf, frame);
  std::string error;
  const auto value = evaluator.evaluate(arguments, error);
  if (!value) return fmt::format("monitor print: {}\n", error.empty() ? "cannot evaluate" : error);
  return printer.print(*value) + "\n";
}

}  // namespace gostub::server
