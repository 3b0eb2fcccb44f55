#include "server/go_state.hpp"

#include <elf.h>
#include <fmt/format.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>

#include "symbols/symbol_image.hpp"
#include "target/registers.hpp"

namespace gostub::server {

GoState::GoState(target::Process& process, const GoSettings& settings)
    : process_(process),
      settings_(settings),
      memory_(process),
      catches_(process, *this, settings) {}

namespace {

// The program's file as gostub can open it: its path, or /proc/PID/exe when that path names
// another file or none, as when gostub runs in another mount namespace than the program (a
// Kubernetes debug container shares the pod's PID namespace, not its files).
std::string program_file(const target::Process& process) {
  if (!process.alive()) return process.executable();
  const auto exe = fmt::format("/proc/{}/exe", process.pid());
  struct stat named {
  }, running{};
  if (::stat(exe.c_str(), &running) != 0) return process.executable();
  if (::stat(process.executable().c_str(), &named) == 0 && named.st_dev == running.st_dev &&
      named.st_ino == running.st_ino) {
    return process.executable();
  }
  return exe;
}

}  // namespace

const symbols::GoBinary* GoState::binary(std::string& why_not) {
  if (!binary_ && binary_error_.empty()) {
    if (auto binary = symbols::GoBinary::open(program_file(process_))) {
      binary_ = std::move(*binary);
    } else {
      binary_error_ = binary.error().message;
    }
  }
  why_not = binary_error_;
  return binary_ ? &*binary_ : nullptr;
}

std::uint64_t GoState::load_bias() {
  if (load_bias_) return *load_bias_;
  if (!binary_ || !binary_->image().position_independent()) return 0;
  const auto auxv = process_.auxv();
  if (!auxv) return 0;  // not cached: the process may be gone, or not be read yet
  load_bias_ = 0;
  for (std::size_t at = 0; at + 16 <= auxv->size(); at += 16) {
    std::uint64_t type, value;
    std::memcpy(&type, auxv->data() + at, 8);
    std::memcpy(&value, auxv->data() + at + 8, 8);
    if (type == AT_ENTRY) load_bias_ = value - binary_->image().entry();
  }
  return *load_bias_;
}

symbols::DwarfInfo* GoState::dwarf(std::string& why_not) {
  if (!dwarf_ && dwarf_error_.empty()) {
    dwarf_ = symbols::DwarfInfo::open(program_file(process_), dwarf_error_);
    if (!dwarf_ && dwarf_error_.empty()) dwarf_error_ = "no DWARF";
  }
  why_not = dwarf_error_;
  return dwarf_.get();
}

std::optional<GoState::SchedulerWait> GoState::scheduler_wait() {
  if (scheduler_wait_) return *scheduler_wait_;
  scheduler_wait_.emplace();
  std::string why_not;
  auto* info = dwarf(why_not);
  if (info == nullptr) return std::nullopt;
  const auto sched = info->global("runtime.sched");
  if (!sched || sched->first.type == nullptr) return std::nullopt;
  std::optional<std::uint64_t> gcwaiting, stopwait, safe_point_wait;
  for (const auto& field : sched->first.type->fields) {
    if (field.name == "gcwaiting") gcwaiting = field.offset;
    if (field.name == "stopwait") stopwait = field.offset;
    if (field.name == "safePointWait") safe_point_wait = field.offset;
  }
  if (!gcwaiting || !stopwait || !safe_point_wait) return std::nullopt;
  const auto base = sched->second + load_bias();
  *scheduler_wait_ = SchedulerWait{base + *gcwaiting, base + *stopwait, base + *safe_point_wait};
  return *scheduler_wait_;
}

symbols::RuntimeTypes* GoState::runtime_types() {
  if (!runtime_types_) {
    const auto* go_runtime = runtime();
    if (go_runtime == nullptr) return nullptr;
    runtime_types_.emplace(*go_runtime, memory_);
  }
  return &*runtime_types_;
}

const symbols::Goroutines* GoState::reader() {
  if (!reader_) {
    std::string why_not;
    const auto* go_binary = binary(why_not);
    if (go_binary == nullptr) return nullptr;
    reader_.emplace(*go_binary, load_bias());
    if (allgs_.address) reader_->set_allgs_address(*allgs_.address - load_bias());
  }
  return &*reader_;
}

const symbols::GoRuntime* GoState::runtime() {
  const auto* goroutine_reader = reader();
  return goroutine_reader != nullptr ? &goroutine_reader->runtime() : nullptr;
}

const std::vector<symbols::Goroutine>* GoState::goroutines(std::string& why_not) {
  if (stop_.goroutines) return &*stop_.goroutines;
  const auto* goroutine_reader = reader();
  if (goroutine_reader == nullptr) {
    binary(why_not);
    return nullptr;
  }
  if (!process_.alive()) {
    why_not = "the process is not running";
    return nullptr;
  }
  std::vector<symbols::ThreadContext> threads;
  for (const pid_t tid : process_.threads()) {
    if (const auto file = process_.read_general_registers(tid)) {
      threads.push_back({tid, target::register_value(*file, target::regno::kFsBase),
                         target::register_value(*file, target::regno::kRip),
                         target::register_value(*file, target::regno::kRsp),
                         target::register_value(*file, target::regno::kRbp)});
    }
  }
  auto listed = goroutine_reader->read(memory_, threads);
  if (!listed) {
    why_not = listed.error().message;
    return nullptr;
  }
  stop_.goroutines = std::move(*listed);
  stop_.goroutine_index.clear();
  for (std::size_t i = 0; i < stop_.goroutines->size(); ++i) {
    stop_.goroutine_index.emplace((*stop_.goroutines)[i].id, i);
  }
  return &*stop_.goroutines;
}

const symbols::Goroutine* GoState::goroutine(std::int64_t id) {
  std::string why_not;
  const auto* all = goroutines(why_not);
  if (all == nullptr) return nullptr;
  const auto found = stop_.goroutine_index.find(id);
  return found == stop_.goroutine_index.end() ? nullptr : &(*all)[found->second];
}

const symbols::Goroutine* GoState::parked(std::int64_t id) {
  if (!settings_.goroutine_threads) return nullptr;
  const auto* found = goroutine(id);
  return found != nullptr && found->thread == 0 ? found : nullptr;
}

std::string GoState::status(const symbols::Goroutine& goroutine) {
  if (goroutine.status == symbols::GoroutineStatus::kWaiting && goroutine.wait_reason != 0 &&
      reader() != nullptr) {
    return reader_->wait_reason(goroutine.wait_reason);
  }
  return std::string(symbols::status_name(goroutine.status));
}

const symbols::GoRuntime::Goroutine* GoState::thread_goroutine(std::string_view general_registers) {
  const auto* go_runtime = runtime();
  if (go_runtime == nullptr) return nullptr;
  const auto fs_base = target::register_value(general_registers, target::regno::kFsBase);
  auto [found, is_new] = stop_.on_threads.try_emplace(fs_base);
  if (is_new) found->second = go_runtime->thread_goroutine(memory_, fs_base);
  return found->second ? &*found->second : nullptr;
}

std::optional<std::string> GoState::thread_goroutine_name(std::string_view general_registers) {
  const auto* running = thread_goroutine(general_registers);
  if (running == nullptr) return std::nullopt;
  return fmt::format("goroutine {} {}", running->id, running->start_function);
}

void GoState::forget_stop() {
  stop_ = {};
}

void GoState::set_allgs_from_client(std::uint64_t runtime_address) {
  allgs_.address = runtime_address;
  if (reader_) reader_->set_allgs_address(runtime_address - load_bias());
}

GoState::SymbolImage::~SymbolImage() {
  if (made.valid()) made.wait();  // the worker writes through fd
  if (fd >= 0) ::close(fd);
}

void GoState::prepare_symbol_image() {
  if (symbol_image_.tried) return;
  symbol_image_.tried = true;
  std::string why_not;
  const auto* go_binary = binary(why_not);
  if (go_binary == nullptr || go_binary->image().has_symbol_table() ||
      go_binary->image().has_dwarf()) {
    return;
  }
  symbol_image_.fd = ::memfd_create("gostub-symbols", MFD_CLOEXEC);
  if (symbol_image_.fd < 0) return;
  // Made on a thread of its own, from its own reading of the file (no ptrace, nothing shared
  // with the event loop), so that no packet waits for it: a large binary takes a second.
  symbol_image_.file = program_file(process_);
  symbol_image_.made = std::async(
      std::launch::async,
      [file = symbol_image_.file, fd = symbol_image_.fd, &overlay = symbol_image_.overlay] {
        std::string error;
        if (auto copy = symbols::GoBinary::open(file); !copy) {
          error = copy.error().message;
        } else if (auto written = symbols::write_symbol_overlay(*copy, fd, overlay); !written) {
          error = written.error().message;
        }
        ::malloc_trim(0);  // this thread's arena gives back what the making used
        return error;
      });
}

std::optional<FileOverlay> GoState::symbol_image() {
  prepare_symbol_image();
  if (symbol_image_.fd < 0) return std::nullopt;
  if (symbol_image_.made.valid()) {
    // The client waits for this answer at most its timeout (gdb: 2 s): wait a little for the
    // image, else serve the file as it is.
    if (symbol_image_.made.wait_for(std::chrono::milliseconds(1500)) != std::future_status::ready) {
      fmt::print(stderr, "gostub: symbols for {} are not ready yet; serving it as it is\n",
                 process_.executable());
      return std::nullopt;
    }
    if (const auto error = symbol_image_.made.get(); !error.empty()) {
      fmt::print(stderr, "gostub: cannot rebuild symbols for {}: {}\n", process_.executable(),
                 error);
      ::close(symbol_image_.fd);
      symbol_image_.fd = -1;
      return std::nullopt;
    }
    fmt::print(stderr, "gostub: {} is stripped; serving it with symbols from its pclntab\n",
               process_.executable());
  }
  return FileOverlay{symbol_image_.file, symbol_image_.overlay.header, symbol_image_.fd,
                     symbol_image_.overlay.tail_start};
}

bool GoState::ask_client_for_allgs() {
  std::string why_not;
  const auto* go_binary = binary(why_not);
  if (allgs_.asked || go_binary == nullptr || go_binary->image().symbol("runtime.allgs")) {
    return false;
  }
  allgs_.asked = true;
  return true;
}

}  // namespace gostub::server
