#include "server/tools.hpp"

#include <fmt/core.h>

#include <charconv>

#include "protocol/hex.hpp"
#include "symbols/go_binary.hpp"
#include "symbols/goroutines.hpp"
#include "symbols/symbol_image.hpp"

namespace gostub::server {

namespace {

using symbols::GoBinary;

std::string symbolize(const GoBinary& binary, std::uint64_t address) {
  const auto& lines = binary.lines();
  const auto function = lines.find(address);
  if (!function) return fmt::format("{:#x} ?", address);
  const auto line = lines.source_line(address);
  // No line information (e.g. padding after the code) prints as debug/gosym does: "?:-1".
  return fmt::format("{:#x} {} {}:{}", address, lines.name(*function),
                     line ? line->file : std::string_view("?"), line ? line->line : -1);
}

int usage() {
  fmt::print(stderr,
             "usage: gostub info PROG | symbolize [--inline] PROG ADDR... | lines PROG FUNC |"
             " functions PROG | layout PROG | symbols PROG -o OUTPUT\n");
  return 2;
}

}  // namespace

std::optional<int> run_tool(const std::vector<std::string>& arguments) {
  if (arguments.empty()) return std::nullopt;
  const auto& command = arguments[0];
  if (command != "info" && command != "symbolize" && command != "lines" && command != "functions" &&
      command != "layout" && command != "symbols") {
    return std::nullopt;
  }
  // symbolize --inline PROG ADDR…: every source frame at each address, inlined calls first.
  const bool inline_frames =
      command == "symbolize" && arguments.size() > 1 && arguments[1] == "--inline";
  const std::size_t program_at = inline_frames ? 2 : 1;
  if (arguments.size() <= program_at) return usage();
  const auto& program = arguments[program_at];
  auto binary = GoBinary::open(program);
  if (!binary) {
    fmt::print(stderr, "gostub: {}\n", binary.error().message);
    return 1;
  }
  const auto& lines = binary->lines();
  if (command == "symbols") {
    // symbols PROG -o OUTPUT: a copy of a stripped PROG with symbols, lines and frames.
    if (arguments.size() != 4 || arguments[2] != "-o") return usage();
    const auto written = symbols::write_symbol_image(*binary, arguments[3]);
    if (!written) {
      fmt::print(stderr, "gostub: {}\n", written.error().message);
      return 1;
    }
    fmt::print("{}: {} functions, {} source files, {} line rows\n", arguments[3],
               written->functions, written->files, written->line_rows);
    return 0;
  }
  if (command == "info") {
    if (arguments.size() != 2) return usage();
    fmt::print("{}", binary->describe());
    // Where goroutines will be read from: each way gostub finds runtime.allgs, in the order
    // it tries them on a live process.
    for (const auto& candidate : symbols::Goroutines(*binary, 0).allgs_candidates()) {
      fmt::print("\truntime.allgs\t{:#x} ({})\n", candidate.address, candidate.found_by);
    }
    return 0;
  }
  if (command == "layout") {
    // The runtime layout and wait reasons gostub uses for this binary, in the format of the
    // tests' oracle (which reads them from DWARF and runtime.waitReasonStrings).
    const symbols::Goroutines goroutines(*binary, 0);
    const auto& l = goroutines.layout();
    const std::pair<std::string_view, std::uint64_t> fields[] = {
        {"runtime.g.stack", l.g_stack_lo},
        {"runtime.g.sched", l.g_sched},
        {"runtime.g.m", l.g_m},
        {"runtime.g.atomicstatus", l.g_status},
        {"runtime.g.waitreason", l.g_waitreason},
        {"runtime.g.goid", l.g_goid},
        {"runtime.g.gopc", l.g_gopc},
        {"runtime.g.startpc", l.g_startpc},
        {"runtime.g.labels", l.g_labels},
        {"runtime.g.waitsince", l.g_waitsince},
        {"runtime.g.syscallsp", l.g_syscallsp},
        {"runtime.g.syscallpc", l.g_syscallpc},
        {"runtime.gobuf.sp", l.gobuf_sp},
        {"runtime.gobuf.pc", l.gobuf_pc},
        {"runtime.gobuf.bp", l.gobuf_bp},
        {"runtime.m.g0", l.m_g0},
        {"runtime.m.curg", l.m_curg},
        {"runtime.m.procid", l.m_procid},
        {"runtime.stack.lo", 0},
        {"runtime.stack.hi", l.g_stack_hi}};
    for (const auto& [name, offset] : fields) fmt::print("{} {}\n", name, offset);
    for (std::size_t i = 0; i < goroutines.wait_reason_count(); ++i) {
      fmt::print("waitreason {} {}\n", i, goroutines.wait_reason(static_cast<std::uint8_t>(i)));
    }
    return 0;
  }
  if (command == "functions") {
    for (std::uint32_t i = 0; i < lines.function_count(); ++i) {
      if (const auto function = lines.function(i)) {
        fmt::print("{:#x} {:#x} {}\n", function->entry, function->end, lines.name(*function));
      }
    }
    return 0;
  }
  if (command == "symbolize") {
    int status = 0;
    for (std::size_t i = inline_frames ? 3 : 2; i < arguments.size(); ++i) {
      const auto address = protocol::parse_number(arguments[i]);
      if (!address) {
        fmt::print(stderr, "gostub: '{}' is not an address\n", arguments[i]);
        status = 2;
        continue;
      }
      if (!inline_frames) {
        fmt::print("{}\n", symbolize(*binary, *address));
        continue;
      }
      const auto frames = binary->frames(*address);
      if (frames.empty()) fmt::print("{:#x} ?\n", *address);
      for (const auto& frame : frames) {
        fmt::print("{:#x} {} {}:{}{}\n", *address, frame.function,
                   frame.line ? frame.line->file : std::string_view("?"),
                   frame.line ? frame.line->line : -1, frame.inlined ? " (inlined)" : "");
      }
    }
    return status;
  }
  // lines
  if (arguments.size() != 3) return usage();
  const auto function = lines.find_by_name(arguments[2]);
  if (!function) {
    fmt::print(stderr, "gostub: no function {} in {}\n", arguments[2], arguments[1]);
    return 1;
  }
  for (const auto& row : lines.rows(*function)) {
    fmt::print("{:#x} {}:{}\n", row.pc, row.line.file, row.line.line);
  }
  return 0;
}

}  // namespace gostub::server
