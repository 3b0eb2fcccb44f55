#include "server/monitor.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "server/debug_log.hpp"
#include "server/function_search.hpp"
#include "server/gdbserver_options.hpp"

namespace gostub::server {

namespace {

// The first line and gdbserver's own commands as gdbserver 13 says them (gdb's testsuite and
// scripts look for them), then gostub's.
constexpr std::string_view kHelp =
    "The following monitor commands are supported:\n"
    "  set debug <0|1>\n"
    "    Enable general debugging messages\n"
    "  set remote-debug <0|1>\n"
    "    Enable remote protocol debugging messages\n"
    "  set event-loop-debug <0|1>\n"
    "    Enable event loop debugging messages\n"
    "  set debug-format option1[,option2,...]\n"
    "    Add additional information to debugging messages\n"
    "    Options: all, none, timestamp\n"
    "  exit\n"
    "    Quit GDBserver\n"
    "gostub monitor commands:\n"
    "  help         show this list\n"
    "  info         the Go binary: version, modules, build settings, symbol tables\n"
    "  eval EXPR    from the pclntab, so also on stripped binaries:\n"
    "                 re:REGEXP  functions whose names match\n"
    "                 addr:NAME  a function's address\n"
    "                 ADDRESS    function and file:line (hex 0x.., octal 0.., decimal)\n"
    "  catch [panic|throw|recovered-panic on|off]\n"
    "               stop where the program panics or dies of a fatal error (default: panic\n"
    "               and throw on); without arguments, show the settings\n"
    "  goroutines [-u] [-r] [-w REASON] [-n COUNT]\n"
    "               every goroutine: id, status or wait reason, location, thread; -u user\n"
    "               goroutines only, -r running ones, -w those whose wait reason has REASON\n"
    "  goroutine ID [-n FRAMES]\n"
    "               this goroutine's details and its stack, unwound from pclntab (the first\n"
    "               1024 frames unless -n says otherwise)\n"
    "  print [-g ID] [-f FRAME] [-n ELEMENTS] [-d DEPTH] [-s BYTES] EXPR\n"
    "               a Go value as Delve prints it; EXPR is a local or argument of the current\n"
    "               thread's frame (or goroutine ID's), a package variable (main.counter), or\n"
    "               (TYPE)ADDR, with .field, [index], [\"key\"] and *p on top; stripped\n"
    "               binaries: (TYPE)ADDR and interfaces, from the runtime's type data.\n"
    "               Shown: 64 elements, 64 string bytes, depth 1 (-n, -s, -d)\n"
    "  set goroutine-threads on|off\n"
    "               show parked goroutines as threads too (ids 1000000000 + goroutine id),\n"
    "               for thread N, bt, frame, info locals; they cannot be resumed on their own\n"
    "  hits         breakpoint hits passed without a report (false conditions, agent\n"
    "               dprintf): how many in place (displaced, no other thread stopped), how\n"
    "               many stopping all; dprintf lines dropped by the rate limit\n"
    "  world        whether Go's stop-the-world (garbage collection) waits, and for which\n"
    "               threads the debugger keeps stopped (non-stop mode); told unasked too\n"
    "  exit         (above) a launched program is killed, an attached one detached\n";

std::optional<std::uint64_t> parse_c_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  try {
    std::size_t used = 0;
    const std::string copy(text);
    const auto value = std::stoull(copy, &used, 0);  // 0x…, 0…, or decimal, as C reads them
    if (used != copy.size()) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string_view trim_front(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return text;
}

// "word" or "word ARGS": the arguments, or nullopt when `text` is another command.
std::optional<std::string_view> arguments_of(std::string_view text, std::string_view word) {
  if (text == word) return std::string_view{};
  if (text.size() > word.size() && text.starts_with(word) && text[word.size()] == ' ') {
    return trim_front(text.substr(word.size() + 1));
  }
  return std::nullopt;
}

}  // namespace

MonitorCommands::Outcome MonitorCommands::run(std::string_view text, Program* program,
                                              std::optional<ClientThread> selected) {
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  Outcome out;
  GoState* go = program != nullptr ? program->go() : nullptr;
  // Commands about the program need one that gostub can read as Go.
  const auto about_go = [&](auto&& answer) {
    if (program == nullptr) return std::string("gostub: no program\n");
    if (go == nullptr) return std::string("gostub: not a Go program\n");
    std::string why_not;
    if (go->binary(why_not) == nullptr) return fmt::format("gostub: {}\n", why_not);
    return answer(*go);
  };
  if (text == "help") {
    out.console = kHelp;
  } else if (text == "exit") {
    out.exit = true;
  } else if (text == "hits") {
    if (program == nullptr) {
      out.console = "gostub: no program\n";
    } else {
      const auto hits = program->hit_counters();
      out.console = fmt::format(
          "passed in place: {}\npassed stopping all threads: {}\ndprintf lines dropped: {}\n",
          hits.passed_in_place, hits.passed_stopping_all, hits.output_dropped);
    }
  } else if (text == "world") {
    if (program == nullptr) {
      out.console = "gostub: no program\n";
    } else if (const auto world = program->stop_the_world()) {
      out.console = describe(*world);
    } else {
      out.console =
          "gostub: cannot read the Go scheduler (runtime.sched is found through DWARF: not in "
          "stripped binaries)\n";
    }
  } else if (text == "info") {
    out.console = about_go([&](GoState& state) { return info(*program, state); });
  } else if (const auto arguments = arguments_of(text, "catch")) {
    out.console = catch_settings(go, *arguments);
  } else if (const auto listing = arguments_of(text, "goroutines")) {
    out.console = about_go([&](GoState& state) { return goroutines(state, *listing, selected); });
  } else if (const auto id = arguments_of(text, "goroutine")) {
    out.console = about_go([&](GoState& state) { return goroutine(state, *id); });
  } else if (const auto printed = arguments_of(text, "print")) {
    out.console = about_go([&](GoState& state) {
      // What the program's memory says is not trusted: a value print cannot read is an
      // answer, never the end of the server.
      try {
        return print(*program, state, *printed, selected);
      } catch (const std::exception& error) {
        return fmt::format("monitor print: {}\n", error.what());
      }
    });
  } else if (const auto setting = arguments_of(text, "set")) {
    out.console = set(*setting, out);
  } else if (const auto expression = arguments_of(text, "eval")) {
    out.console = about_go([&](GoState& state) { return eval(state, *expression); });
  } else {
    out.console = fmt::format("Unknown monitor command '{}'.\n\n{}", text, kHelp);
    out.unknown = true;
  }
  return out;
}

std::string MonitorCommands::info(Program& program, GoState& go) {
  std::string why_not;
  std::string out = go.binary(why_not)->describe();
  out += fmt::format("process:\n\tpid\t{}\n\tthreads\t{}\n\tload bias\t{:#x}\n", program.pid(),
                     program.threads().size(), go.load_bias());
  if (const auto* all = go.goroutines(why_not)) {
    out +=
        fmt::format("\tgoroutines\t{}, from {}\n", all->size(), go.reader()->allgs_description());
  } else {
    out += fmt::format("\tgoroutines\t{}\n", why_not);
  }
  return out;
}

std::string MonitorCommands::eval(GoState& go, std::string_view expression) {
  std::string why_not;
  const auto& lines = go.binary(why_not)->lines();
  const auto bias = go.load_bias();
  if (expression.starts_with("re:")) {
    return list_matching_functions(lines, bias, expression.substr(3));
  }
  if (expression.starts_with("addr:")) {
    const auto function = lines.find_by_name(expression.substr(5));
    if (!function) return fmt::format("no function {}\n", expression.substr(5));
    return fmt::format("{:#x}\n", function->entry + bias);
  }
  if (expression.starts_with("val:")) {
    return "val: needs DWARF variable support, which gostub does not have yet\n";
  }
  const auto address = parse_c_number(expression);
  if (!address) return fmt::format("cannot evaluate '{}'; see 'monitor help'\n", expression);
  const auto link_address = *address - bias;
  const auto function = lines.find(link_address);
  if (!function) return fmt::format("{:#x} is in no Go function\n", *address);
  const auto line = lines.source_line(link_address);
  return fmt::format("{}+{:#x} {}:{}\n", lines.name(*function), link_address - function->entry,
                     line ? line->file : std::string_view("?"), line ? line->line : -1);
}

std::string MonitorCommands::catch_settings(GoState* go, std::string_view arguments) {
  if (!arguments.empty()) {
    const auto space = arguments.find(' ');
    const auto what = arguments.substr(0, space);
    const auto value =
        space == std::string_view::npos ? std::string_view{} : arguments.substr(space + 1);
    bool* setting = what == "panic"             ? &settings_.panic
                    : what == "throw"           ? &settings_.fatal_error
                    : what == "recovered-panic" ? &settings_.recovered_panic
                                                : nullptr;
    if (setting == nullptr || (value != "on" && value != "off")) {
      return "usage: monitor catch [panic|throw|recovered-panic on|off]\n";
    }
    *setting = value == "on";
    if (go != nullptr) go->catches().apply();
  }
  const auto state = [](bool on) { return on ? "on" : "off"; };
  return fmt::format("catch panic {}\ncatch throw {}\ncatch recovered-panic {}\n",
                     state(settings_.panic), state(settings_.fatal_error),
                     state(settings_.recovered_panic));
}

bool MonitorCommands::thread_db_found() const {
  // $pdir (where the program's libc is) and $sdir (the system's) always have one here.
  std::string_view path = thread_db_search_path_;
  while (true) {
    const auto colon = path.find(':');
    const auto directory = path.substr(0, colon);
    if (directory == "$pdir" || directory == "$sdir") return true;
    if (!directory.empty() &&
        ::access((std::string(directory) + "/libthread_db.so.1").c_str(), R_OK) == 0) {
      return true;
    }
    if (colon == std::string_view::npos) return false;
    path.remove_prefix(colon + 1);
  }
}

std::string MonitorCommands::set(std::string_view arguments, Outcome& out) {
  // gdbserver's debug switches: "set NAME 0|1", answered in its words.
  struct Switch {
    std::string_view name;
    DebugLog::Component component;
    std::string_view what;
  };
  static constexpr Switch kSwitches[] = {
      {"debug", DebugLog::Component::kThreads, "Debug output"},
      {"remote-debug", DebugLog::Component::kRemote, "Protocol debug output"},
      {"event-loop-debug", DebugLog::Component::kEventLoop, "Event loop debug output"},
  };
  for (const auto& item : kSwitches) {
    if (const auto value = arguments_of(arguments, item.name)) {
      if (*value != "0" && *value != "1") break;
      debug_log().enable(item.component, *value == "1");
      return fmt::format("{} {}.\n", item.what, *value == "1" ? "enabled" : "disabled");
    }
  }
  if (const auto format = arguments_of(arguments, "debug-format")) {
    const auto timestamps = parse_debug_format(*format);
    if (!timestamps) {
      out.unknown = true;
      return fmt::format("Unknown debug-format argument: \"{}\"\n\n{}", timestamps.error(), kHelp);
    }
    debug_log().set_timestamps(*timestamps);
    if (*format == "all") return "All extra debug format options enabled.\n";
    if (*format == "none") return "All extra debug format options disabled.\n";
    return *timestamps ? "Timestamps will be added to debug output.\n"
                       : "Timestamps will not be added to debug output.\n";
  }
  if (const auto path = arguments_of(arguments, "libthread-db-search-path")) {
    thread_db_search_path_ = path->empty() ? std::string(kDefaultThreadDbPath) : std::string(*path);
    return fmt::format("libthread-db-search-path set to `{}'\n", thread_db_search_path_);
  }
  if (arguments == "goroutine-threads on" || arguments == "goroutine-threads off") {
    settings_.goroutine_threads = arguments.ends_with("on");
    out.threads_changed = true;
    return fmt::format("goroutine-threads: {}\n", settings_.goroutine_threads ? "on" : "off");
  }
  out.unknown = true;
  return fmt::format("Unknown monitor command 'set {}'.\n\n{}", arguments, kHelp);
}

}  // namespace gostub::server
