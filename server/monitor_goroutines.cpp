// `monitor goroutines` and `monitor goroutine N`: the goroutine list and one goroutine's
// details with its stack, unwound from pclntab.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <climits>

#include "server/monitor.hpp"

namespace gostub::server {

namespace {

using symbols::GoroutineStatus;

std::optional<std::int64_t> parse_integer(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string location(const symbols::StackFrame& frame) {
  if (!frame.line) return fmt::format("{} ({:#x})", frame.function, frame.pc);
  return fmt::format("{} at {}:{} ({:#x})", frame.function, frame.line->file, frame.line->line,
                     frame.pc);
}

}  // namespace

std::string MonitorCommands::goroutines(GoState& go, std::string_view arguments,
                                        std::optional<ClientThread> selected) {
  bool user_only = false, running_only = false;
  std::string reason;
  std::size_t limit = SIZE_MAX;
  std::vector<std::string_view> words;
  for (std::size_t at = 0; at < arguments.size();) {
    const auto end = std::min(arguments.find(' ', at), arguments.size());
    if (end > at) words.push_back(arguments.substr(at, end - at));
    at = end + 1;
  }
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "-u") {
      user_only = true;
    } else if (words[i] == "-r") {
      running_only = true;
    } else if (words[i] == "-w" && i + 1 < words.size()) {
      reason = words[++i];
      // A reason may have spaces ("chan receive"): the rest up to the next option.
      while (i + 1 < words.size() && !words[i + 1].starts_with("-")) {
        reason += ' ';
        reason += words[++i];
      }
    } else if (words[i] == "-n" && i + 1 < words.size() &&
               parse_integer(words[i + 1]).value_or(-1) >= 0) {
      limit = static_cast<std::size_t>(parse_integer(words[++i]).value_or(0));
    } else {
      return fmt::format("monitor goroutines: unknown argument '{}'; see 'monitor help'\n",
                         words[i]);
    }
  }
  std::string why_not;
  const auto* all = go.goroutines(why_not);
  if (all == nullptr) return fmt::format("gostub: {}\n", why_not);
  const auto& reader = *go.reader();
  const auto& memory = go.memory();
  // The goroutine of the selected OS thread is marked.
  const std::int64_t current = selected && !selected->is_goroutine() ? selected->tid() : 0;
  std::string out;
  std::size_t shown = 0, matched = 0;
  for (const auto& goroutine : *all) {
    if (user_only && reader.is_system(goroutine)) continue;
    if (running_only && goroutine.status != GoroutineStatus::kRunning) continue;
    const auto status = go.status(goroutine);
    if (!reason.empty() && status.find(reason) == std::string::npos) continue;
    ++matched;
    if (shown >= limit) continue;
    ++shown;
    const auto frames = reader.stack(memory, goroutine.pc, goroutine.sp, 1);
    out +=
        fmt::format("{} Goroutine {} [{}] {}",
                    current != 0 && goroutine.thread == current ? '*' : ' ', goroutine.id, status,
                    frames.empty() ? fmt::format("({:#x})", goroutine.pc) : location(frames[0]));
    if (goroutine.thread != 0) out += fmt::format(" thread {}", goroutine.thread);
    if (const auto labels = reader.labels(memory, goroutine); !labels.empty())
      out += fmt::format(" labels {{{}}}", labels);
    out += '\n';
  }
  out += fmt::format("[{} goroutines", matched);
  if (shown < matched) out += fmt::format(", {} shown", shown);
  out += "]\n";
  return out;
}

std::string MonitorCommands::goroutine(GoState& go, std::string_view arguments) {
  // ID [-n FRAMES]
  constexpr std::size_t kDefaultFrames = 1024;
  std::size_t frame_limit = kDefaultFrames;
  const auto option = arguments.find(" -n");
  if (option != std::string_view::npos) {
    auto count = arguments.substr(option + 3);
    while (!count.empty() && count.front() == ' ') count.remove_prefix(1);
    const auto parsed = parse_integer(count);
    if (!parsed || *parsed <= 0) {
      return fmt::format("monitor goroutine: -n takes a positive frame count, not '{}'\n", count);
    }
    frame_limit = static_cast<std::size_t>(*parsed);
    arguments = arguments.substr(0, option);
  }
  const auto id = parse_integer(arguments);
  if (!id) return fmt::format("monitor goroutine: '{}' is not a goroutine id\n", arguments);
  std::string why_not;
  if (go.goroutines(why_not) == nullptr) return fmt::format("gostub: {}\n", why_not);
  const auto* found = go.goroutine(*id);
  if (found == nullptr) return fmt::format("no goroutine {} (or it is dead)\n", *id);
  const auto& goroutine = *found;
  const auto& memory = go.memory();
  const auto& reader = *go.reader();
  std::string out = fmt::format("Goroutine {} [{}]\n", goroutine.id, go.status(goroutine));
  out += goroutine.thread != 0 ? fmt::format("  thread: {}\n", goroutine.thread)
                               : std::string("  thread: none\n");
  if (settings_.goroutine_threads && goroutine.thread == 0) {
    out += fmt::format("  shown as thread: {}\n", ClientThread::goroutine(goroutine.id).wire());
  }
  out += fmt::format("  start function: {} ({:#x})\n", reader.function_at(goroutine.start_pc),
                     goroutine.start_pc);
  if (goroutine.creator_pc != 0) {
    const auto created = reader.stack(memory, goroutine.creator_pc - 1, 0, 1);
    out += fmt::format("  created by: {}\n", created.empty()
                                                 ? fmt::format("{:#x}", goroutine.creator_pc)
                                                 : location(created.back()));
  }
  if (const auto labels = reader.labels(memory, goroutine); !labels.empty()) {
    out += fmt::format("  labels: {}\n", labels);
  }
  out += fmt::format("  pc {:#x} sp {:#x} bp {:#x} stack [{:#x}, {:#x})\n", goroutine.pc,
                     goroutine.sp, goroutine.bp, goroutine.stack_lo, goroutine.stack_hi);
  out += "  stack:\n";
  // Unwound in full (bounded: a goroutine stack is at most 1 GB), shown up to the limit.
  constexpr std::size_t kMostFrames = 1'000'000;
  const auto frames = reader.stack(memory, goroutine.pc, goroutine.sp, kMostFrames);
  for (std::size_t number = 0; number < frames.size() && number < frame_limit; ++number) {
    out += fmt::format("    #{:<3} {}{}\n", number, location(frames[number]),
                       frames[number].inlined ? " (inlined)" : "");
  }
  if (frames.size() > frame_limit) {
    out += fmt::format("    ... {} more frames ('monitor goroutine {} -n {}' shows them all)\n",
                       frames.size() - frame_limit, goroutine.id, frames.size());
  }
  return out;
}

}  // namespace gostub::server
