// What gostub learns about one program as a Go program: its binary (pclntab, build info), the
// PIE load bias, the runtime reader, this stop's goroutines, and gostub's own catch points.
// Part of a TracedProgram, made with it and dropped with it: a new program starts from nothing.
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/host_io.hpp"
#include "server/process_memory.hpp"
#include "symbols/dwarf_info.hpp"
#include "symbols/go_binary.hpp"
#include "symbols/go_runtime.hpp"
#include "symbols/goroutines.hpp"
#include "symbols/runtime_types.hpp"
#include "symbols/symbol_image.hpp"
#include "target/process.hpp"

namespace gostub::server {

// What gostub does for Go on its own, settings that outlive a program and a client: where it
// stops the program (Delve's behaviour; --catch, `monitor catch`), and whether parked
// goroutines are shown as threads (--goroutine-threads, `monitor set goroutine-threads`).
struct GoSettings {
  bool panic = true;             // unrecovered panics (runtime.fatalpanic)
  bool fatal_error = true;       // runtime.throw and runtime.fatal
  bool recovered_panic = false;  // every panic, recovered or not (runtime.gopanic)
  bool goroutine_threads = false;
};

class GoState;

// gostub's own breakpoints on runtime.fatalpanic, runtime.throw, runtime.fatal (and
// runtime.gopanic when asked): a hit becomes a console message and a SIGTRAP stop.
class CatchPoints {
 public:
  CatchPoints(target::Process& process, GoState& go, const GoSettings& settings)
      : process_(process), go_(go), settings_(settings) {}
  // Inserts or removes the breakpoints to match the settings.
  void apply();
  bool contains(std::uint64_t pc) const { return points_.contains(pc); }
  // A stop at a catch point: the message to show, and the stop to report (a SIGTRAP, or the
  // client's own breakpoint when it has one there too). Other stops come back unchanged.
  target::StopEvent translate(const target::StopEvent& stop, std::string& message);

 private:
  enum class Kind : std::uint8_t { kPanic, kFatalError, kRecoveredPanic };
  target::Process& process_;
  GoState& go_;
  const GoSettings& settings_;
  std::map<std::uint64_t, Kind> points_;  // runtime address -> what it catches
};

class GoState {
 public:
  GoState(target::Process& process, const GoSettings& settings);
  GoState(const GoState&) = delete;
  GoState& operator=(const GoState&) = delete;

  const GoSettings& settings() const { return settings_; }
  const symbols::MemoryReader& memory() const { return memory_; }
  // The program's Go binary, read on first use; nullptr (with the reason) when it is not one.
  const symbols::GoBinary* binary(std::string& why_not);
  // Runtime address minus link-time address (non-zero for a PIE), from auxv's AT_ENTRY.
  std::uint64_t load_bias();
  // The goroutine reader, and the runtime reader it is built on; nullptr when not Go.
  const symbols::Goroutines* reader();
  const symbols::GoRuntime* runtime();
  // The binary's DWARF (nullptr, with the reason, when stripped) and the runtime's type data,
  // both read on first use (monitor print).
  symbols::DwarfInfo* dwarf(std::string& why_not);
  symbols::RuntimeTypes* runtime_types();

  // Where runtime.sched says a stop-the-world waits (gcwaiting: a bool, an atomic.Bool from
  // Go 1.20; stopwait: int32, the Ps still to stop), as runtime addresses: looked up in the
  // DWARF once. nullopt without DWARF or those fields.
  // safePointWait (int32): the Ps still to run forEachP's function (the collector's ragged
  // barriers between its stop-the-worlds).
  struct SchedulerWait {
    std::uint64_t gcwaiting, stopwait, safe_point_wait;
  };
  std::optional<SchedulerWait> scheduler_wait();

  // This stop's goroutines, read on first use and forgotten on resume.
  const std::vector<symbols::Goroutine>* goroutines(std::string& why_not);
  const symbols::Goroutine* goroutine(std::int64_t id);
  // Goroutine `id` when it is shown as a thread of its own: goroutine threads are on and no
  // thread runs it.
  const symbols::Goroutine* parked(std::int64_t id);
  // Its status as runtime.Stack prints it (the wait reason stands for "waiting").
  std::string status(const symbols::Goroutine& goroutine);
  // The goroutine an OS thread runs, when gostub can tell (read once a stop), and its name
  // as threads show it: "goroutine 17 main.worker".
  const symbols::GoRuntime::Goroutine* thread_goroutine(std::string_view general_registers);
  std::optional<std::string> thread_goroutine_name(std::string_view general_registers);
  void forget_stop();

  // runtime.allgs from the client's symbols (qSymbol), for stripped binaries.
  void set_allgs_from_client(std::uint64_t runtime_address);
  // Whether to ask the client for runtime.allgs: once, when the binary has no symbol for it.
  bool ask_client_for_allgs();

  CatchPoints& catches() { return catches_; }

  // For a stripped program: the program with symbols, lines and frames rebuilt from pclntab
  // (`gostub symbols`), as an overlay of the program's file (a new ELF header, and a tail
  // held in memory: no copy of the program); nullopt when the binary has symbols of its own
  // or the image cannot be made.
  std::optional<FileOverlay> symbol_image();
  // Starts making that copy in the background (when the program is made, so that it is ready
  // by the time a client reads the program).
  void prepare_symbol_image();

 private:
  // The in-memory file behind symbol_image().
  struct SymbolImage {
    int fd = -1;       // the tail
    std::string file;  // the program file it overlays
    bool tried = false;
    std::future<std::string> made;   // the worker's error, empty on success
    symbols::SymbolOverlay overlay;  // the worker's, once made
    SymbolImage() = default;
    SymbolImage(const SymbolImage&) = delete;
    SymbolImage& operator=(const SymbolImage&) = delete;
    ~SymbolImage();
  };

  const target::Process& process_;
  const GoSettings& settings_;
  ProcessMemory memory_;
  std::optional<symbols::GoBinary> binary_;
  std::string binary_error_;
  // Both read once: the program's image does not move while gostub debugs it.
  std::optional<std::uint64_t> load_bias_;
  std::optional<symbols::Goroutines> reader_;
  std::unique_ptr<symbols::DwarfInfo> dwarf_;
  std::string dwarf_error_;
  std::optional<symbols::RuntimeTypes> runtime_types_;
  std::optional<std::optional<SchedulerWait>> scheduler_wait_;  // outer: looked up yet
  // What is read once a stop, on first use, and forgotten on resume.
  struct ThisStop {
    std::optional<std::vector<symbols::Goroutine>> goroutines;
    std::unordered_map<std::int64_t, std::size_t> goroutine_index;  // goroutine id -> position
    // The goroutines threads run, by fs_base: asked for by names (three ways a stop for
    // lldb), $goid and conditions on it.
    std::unordered_map<std::uint64_t, std::optional<symbols::GoRuntime::Goroutine>> on_threads;
  } stop_;
  struct ClientAllgs {
    std::optional<std::uint64_t> address;  // runtime.allgs as the client's symbols say
    bool asked = false;
  } allgs_;
  CatchPoints catches_;
  SymbolImage symbol_image_;
};

}  // namespace gostub::server
