// Goroutines for the client: `monitor goroutines`, `monitor goroutine N`, thread names, and
// parked goroutines shown as threads of their own (--goroutine-threads).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "protocol/hex.hpp"
#include "server/gdb_session.hpp"
#include "server/process_memory.hpp"
#include "target/registers.hpp"

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

const symbols::Goroutines* GdbSession::goroutine_reader() {
  if (!goroutine_reader_) {
    std::string why_not;
    const auto* binary = go_binary(why_not);
    if (binary == nullptr) return nullptr;
    goroutine_reader_.emplace(*binary, load_bias());
    if (told_allgs_) goroutine_reader_->set_allgs_address(*told_allgs_ - load_bias());
  }
  return &*goroutine_reader_;
}

const std::vector<symbols::Goroutine>* GdbSession::goroutines(std::string& why_not) {
  if (goroutines_) return &*goroutines_;
  const auto* reader = goroutine_reader();
  if (reader == nullptr) {
    go_binary(why_not);
    return nullptr;
  }
  if (!process_->alive()) {
    why_not = "the process is not running";
    return nullptr;
  }
  std::vector<symbols::ThreadContext> threads;
  for (const pid_t tid : process_->threads()) {
    if (const auto file = process_->read_general_registers(tid)) {
      threads.push_back({tid, target::register_value(*file, target::regno::kFsBase),
                         target::register_value(*file, target::regno::kRip),
                         target::register_value(*file, target::regno::kRsp),
                         target::register_value(*file, target::regno::kRbp)});
    }
  }
  auto listed = reader->read(ProcessMemory(*process_), threads);
  if (!listed) {
    why_not = listed.error().message;
    return nullptr;
  }
  goroutines_ = std::move(*listed);
  goroutine_index_.clear();
  for (std::size_t i = 0; i < goroutines_->size(); ++i) {
    goroutine_index_.emplace((*goroutines_)[i].id, i);
  }
  return &*goroutines_;
}

std::string GdbSession::goroutine_status(const symbols::Goroutine& goroutine) const {
  // As runtime.Stack prints it: the wait reason stands for "waiting" when there is one.
  if (goroutine.status == GoroutineStatus::kWaiting && goroutine.wait_reason != 0) {
    return goroutine_reader_->wait_reason(goroutine.wait_reason);
  }
  return std::string(symbols::status_name(goroutine.status));
}

std::string GdbSession::monitor_goroutines(std::string_view arguments) {
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
  const auto* all = goroutines(why_not);
  if (all == nullptr) return fmt::format("gostub: {}\n", why_not);
  const auto current = selected_thread(general_thread_);
  const ProcessMemory memory(*process_);
  std::string out;
  std::size_t shown = 0, matched = 0;
  for (const auto& goroutine : *all) {
    if (user_only && goroutine_reader_->is_system(goroutine)) continue;
    if (running_only && goroutine.status != GoroutineStatus::kRunning) continue;
    const auto status = goroutine_status(goroutine);
    if (!reason.empty() && status.find(reason) == std::string::npos) continue;
    ++matched;
    if (shown >= limit) continue;
    ++shown;
    const auto frames = goroutine_reader_->stack(memory, goroutine.pc, goroutine.sp, 1);
    out += fmt::format("{} Goroutine {} [{}] {}",
                       current && goroutine.thread == *current ? '*' : ' ', goroutine.id, status,
                       frames.empty() ? fmt::format("({:#x})", goroutine.pc) : location(frames[0]));
    if (goroutine.thread != 0) out += fmt::format(" thread {}", goroutine.thread);
    if (const auto labels = goroutine_reader_->labels(memory, goroutine); !labels.empty())
      out += fmt::format(" labels {{{}}}", labels);
    out += '\n';
  }
  out += fmt::format("[{} goroutines", matched);
  if (shown < matched) out += fmt::format(", {} shown", shown);
  out += "]\n";
  return out;
}

std::string GdbSession::monitor_goroutine(std::string_view arguments) {
  while (!arguments.empty() && arguments.front() == ' ') arguments.remove_prefix(1);
  const auto id = parse_integer(arguments);
  if (!id) return fmt::format("monitor goroutine: '{}' is not a goroutine id\n", arguments);
  std::string why_not;
  const auto* all = goroutines(why_not);
  if (all == nullptr) return fmt::format("gostub: {}\n", why_not);
  const auto found = std::find_if(all->begin(), all->end(),
                                  [&](const auto& goroutine) { return goroutine.id == *id; });
  if (found == all->end()) return fmt::format("no goroutine {} (or it is dead)\n", *id);
  const auto& goroutine = *found;
  const ProcessMemory memory(*process_);
  const auto* reader = goroutine_reader_.operator->();
  std::string out = fmt::format("Goroutine {} [{}]\n", goroutine.id, goroutine_status(goroutine));
  out += goroutine.thread != 0 ? fmt::format("  thread: {}\n", goroutine.thread)
                               : std::string("  thread: none\n");
  if (settings_.goroutine_threads && goroutine.thread == 0) {
    out += fmt::format("  shown as thread: {}\n", kGoroutineThreadBase + goroutine.id);
  }
  out += fmt::format("  start function: {} ({:#x})\n", reader->function_at(goroutine.start_pc),
                     goroutine.start_pc);
  if (goroutine.creator_pc != 0) {
    const auto created = reader->stack(memory, goroutine.creator_pc - 1, 0, 1);
    out += fmt::format("  created by: {}\n", created.empty()
                                                 ? fmt::format("{:#x}", goroutine.creator_pc)
                                                 : location(created.back()));
  }
  if (const auto labels = reader->labels(memory, goroutine); !labels.empty()) {
    out += fmt::format("  labels: {}\n", labels);
  }
  out += fmt::format("  pc {:#x} sp {:#x} bp {:#x} stack [{:#x}, {:#x})\n", goroutine.pc,
                     goroutine.sp, goroutine.bp, goroutine.stack_lo, goroutine.stack_hi);
  out += "  stack:\n";
  std::size_t number = 0;
  for (const auto& frame : reader->stack(memory, goroutine.pc, goroutine.sp)) {
    out += fmt::format("    #{:<3} {}{}\n", number++, location(frame),
                       frame.inlined ? " (inlined)" : "");
  }
  return out;
}

std::string GdbSession::monitor_set(std::string_view arguments) {
  if (arguments == "goroutine-threads on" || arguments == "goroutine-threads off") {
    settings_.goroutine_threads = arguments.ends_with("on");
    thread_lists_.reset();
    return fmt::format("goroutine-threads: {}\n", settings_.goroutine_threads ? "on" : "off");
  }
  return fmt::format("monitor set: unknown setting '{}'; see 'monitor help'\n", arguments);
}

const symbols::Goroutine* GdbSession::parked_goroutine(std::int64_t tid) {
  if (!settings_.goroutine_threads || tid < kGoroutineThreadBase) return nullptr;
  std::string why_not;
  const auto* all = goroutines(why_not);
  if (all == nullptr) return nullptr;
  const auto found = goroutine_index_.find(tid - kGoroutineThreadBase);
  if (found == goroutine_index_.end()) return nullptr;
  const auto& goroutine = (*all)[found->second];
  return goroutine.thread == 0 ? &goroutine : nullptr;
}

std::vector<std::int64_t> GdbSession::client_threads() {
  std::vector<std::int64_t> out;
  for (const pid_t tid : process_->threads()) out.push_back(tid);
  if (!settings_.goroutine_threads) return out;
  std::string why_not;
  if (const auto* all = goroutines(why_not)) {
    for (const auto& goroutine : *all) {
      if (goroutine.thread == 0) out.push_back(kGoroutineThreadBase + goroutine.id);
    }
  }
  return out;
}

bool GdbSession::client_has_thread(std::int64_t tid) {
  if (tid > 0 && tid < kGoroutineThreadBase) return process_->has_thread(static_cast<pid_t>(tid));
  return parked_goroutine(tid) != nullptr;
}

target::Result<std::string> GdbSession::thread_registers(std::int64_t tid) {
  if (const auto* goroutine = parked_goroutine(tid)) {
    // What the runtime saved when it parked the goroutine; the rest reads as zero.
    std::string file(target::register_file_size(), '\0');
    const auto registers = target::x86_64_registers();
    for (const auto& [n, value] : {std::pair{target::regno::kRip, goroutine->pc},
                                   {target::regno::kRsp, goroutine->sp},
                                   {target::regno::kRbp, goroutine->bp}}) {
      std::memcpy(file.data() + registers[n].offset, &value, 8);
    }
    return file;
  }
  return process_->read_registers(static_cast<pid_t>(tid));
}

std::string GdbSession::refuse_goroutine_thread(std::int64_t tid) const {
  const auto message = fmt::format(
      "thread {} is goroutine {}, parked: gostub shows its stack but cannot run it "
      "or change its registers on its own; select an OS thread",
      tid, tid - kGoroutineThreadBase);
  if (log_packets_) fmt::print(stderr, "gostub: {}\n", message);
  return "E." + message;
}

}  // namespace gostub::server
