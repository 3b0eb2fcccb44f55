// What packets mean: one client's protocol state (features, current thread, outstanding
// resume) and the handlers that map each command to target calls. One handler per packet
// family, named after it. Bytes come and go through a Connection.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "protocol/commands.hpp"
#include "protocol/replies.hpp"
#include "server/connection.hpp"
#include "server/host_io.hpp"
#include "symbols/go_binary.hpp"
#include "symbols/go_runtime.hpp"
#include "symbols/goroutines.hpp"
#include "target/process.hpp"

namespace gostub::server {

// What gostub does for Go on its own, settings that outlive a client. Where it stops the
// program (Delve's behaviour; --catch, `monitor catch`), and whether parked goroutines are
// shown as threads (--goroutine-threads, `monitor set goroutine-threads`).
struct GoSettings {
  bool panic = true;             // unrecovered panics (runtime.fatalpanic)
  bool fatal_error = true;       // runtime.throw and runtime.fatal
  bool recovered_panic = false;  // every panic, recovered or not (runtime.gopanic)
  bool goroutine_threads = false;
};

class GdbSession {
 public:
  struct Hooks {
    std::function<void()> request_exit;  // `monitor exit`: end gostub after this reply
    // vRun/A/vAttach: the server ends the current program and keeps this one.
    std::function<target::Process*(std::unique_ptr<target::Process>)> replace_process;
  };

  GdbSession(target::Process& process, std::shared_ptr<Connection> connection, Hooks hooks,
             GoSettings& settings, bool log_packets);

  void on_packet(std::string_view payload);
  void on_interrupt();
  // A stop seen by the event loop (from handle_wait_events()).
  void on_stop(const target::StopEvent& stop);
  bool extended_mode() const { return extended_mode_; }

 private:
  // nullopt: no reply to send now (a stop comes later, or a large reply was sent from its
  // buffer already)
  using Reply = std::optional<std::string>;

  Reply dispatch(const protocol::Command& command);
  Reply handle(const protocol::QuerySupported& command);
  Reply handle(const protocol::StartNoAckMode& command);
  Reply handle(const protocol::QueryHaltReason& command);
  Reply handle(const protocol::ReadRegisters& command);
  Reply handle(const protocol::WriteRegisters& command);
  Reply handle(const protocol::ReadRegister& command);
  Reply handle(const protocol::WriteRegister& command);
  Reply handle(const protocol::ReadMemory& command);
  Reply handle(const protocol::WriteMemory& command);
  Reply handle(const protocol::InsertBreakpoint& command);
  Reply handle(const protocol::RemoveBreakpoint& command);
  Reply handle(const protocol::QueryResumeActions& command);
  Reply handle(const protocol::Resume& command);
  Reply handle(const protocol::SetThread& command);
  Reply handle(const protocol::QueryThreadListFirst& command);
  Reply handle(const protocol::QueryThreadListNext& command);
  Reply handle(const protocol::QueryThreadAlive& command);
  Reply handle(const protocol::QueryCurrentThread& command);
  Reply handle(const protocol::QueryAttached& command);
  Reply handle(const protocol::TransferRead& command);
  Reply handle(const protocol::Kill& command);
  Reply handle(const protocol::Detach& command);
  Reply handle(const protocol::MonitorCommand& command);
  Reply handle(const protocol::QueryOffsets& command);
  Reply handle(const protocol::QuerySymbol& command);
  Reply handle(const protocol::QueryTraceStatus& command);
  Reply handle(const protocol::PassSignals& command);
  Reply handle(const protocol::ProgramSignals& command);
  Reply handle(const protocol::EnableExtendedMode& command);
  Reply handle(const protocol::HostSetFs& command);
  Reply handle(const protocol::HostOpen& command);
  Reply handle(const protocol::HostPread& command);
  Reply handle(const protocol::HostClose& command);
  Reply handle(const protocol::HostFstat& command);
  Reply handle(const protocol::HostReadlink& command);
  Reply handle(const protocol::EnableThreadSuffix& command);
  Reply handle(const protocol::EnableThreadsInStopReply& command);
  Reply handle(const protocol::QueryHostInfo& command);
  Reply handle(const protocol::QueryProcessInfo& command);
  Reply handle(const protocol::QueryWorkingDirectory& command);
  Reply handle(const protocol::QueryThreadStopInfo& command);
  Reply handle(const protocol::QueryThreadsInfo& command);
  Reply handle(const protocol::QueryMemoryRegion& command);
  Reply handle(const protocol::ReadMemoryBinary& command);
  Reply handle(const protocol::Run& command);
  Reply handle(const protocol::QueryLaunchSuccess& command);
  Reply handle(const protocol::Attach& command);
  Reply handle(const protocol::SetLaunchSetting& command);
  Reply handle(const protocol::Declined& command);
  Reply handle(const protocol::Unknown& command);

  // The thread a register or memory access applies to: Hg's choice, else the last stop's.
  std::optional<std::int64_t> selected_thread(const protocol::ThreadId& chosen);
  bool names_process(const protocol::ThreadId& id) const;
  std::string error(const target::Error& error) const;
  std::string stop_reply(const target::StopEvent& stop);
  // Signal numbers on the wire: lldb uses Linux's own (native-signals), gdb its own table.
  int wire_signal(int linux_signal) const;
  int linux_signal(int wire_signal) const;
  // The last stop as this client is told of it (see the lldb note in the definition).
  std::optional<target::StopEvent> current_stop() const;
  // lldb's additions to a stop reply: thread name, every thread and its pc, the reason.
  void add_lldb_stop_keys(protocol::StopReply& reply, const target::StopEvent& stop);
  std::string thread_id(std::int64_t tid) const;
  std::string threads_document();
  // A thread's name for the client: the goroutine it runs when gostub can tell
  // ("goroutine 17 main.worker"), else the kernel's name for it.
  std::string thread_display_name(std::int64_t tid);
  // The program's Go binary, read on first use; nullptr (with a message) when it is not one.
  const symbols::GoBinary* go_binary(std::string& why_not);
  // Runtime address minus link-time address (non-zero for a PIE), from auxv's AT_ENTRY.
  std::uint64_t load_bias();
  // The runtime reader for the program's Go binary (the goroutine reader's); nullptr when it
  // is not Go.
  const symbols::GoRuntime* go_runtime();
  // A client breakpoint hit whose every condition evaluates to zero (resume without a report).
  bool condition_false(const target::StopEvent& stop);
  std::string monitor_info();
  std::string monitor_eval(std::string_view expression);
  std::string monitor_catch(std::string_view arguments);
  // Inserts or removes gostub's own breakpoints to match settings_.
  void apply_catches();
  // A stop at one of them becomes a console message and a SIGTRAP (or the client's own
  // breakpoint, when it has one there too).
  target::StopEvent translate_catch(const target::StopEvent& stop);
  void send_console(std::string_view text);
  // A new program (launch.cpp): forget everything learnt about the old one.
  void adopt(std::unique_ptr<target::Process> process);

  // Goroutines (goroutines.cpp). The list is read once per stop, on first use.
  const symbols::Goroutines* goroutine_reader();
  const std::vector<symbols::Goroutine>* goroutines(std::string& why_not);
  std::string goroutine_status(const symbols::Goroutine& goroutine) const;
  std::string monitor_goroutines(std::string_view arguments);
  std::string monitor_goroutine(std::string_view arguments);
  std::string monitor_set(std::string_view arguments);
  // Threads as the client sees them: the OS threads, then with goroutine-threads on, one per
  // goroutine that no thread runs (kGoroutineThreadBase + goroutine id).
  std::vector<std::int64_t> client_threads();
  bool client_has_thread(std::int64_t tid);
  const symbols::Goroutine* parked_goroutine(std::int64_t tid);
  target::Result<std::string> thread_registers(std::int64_t tid);
  std::string refuse_goroutine_thread(std::int64_t tid) const;

  target::Process* process_;  // the server's; replaced when the client runs or attaches another
  std::shared_ptr<Connection> connection_;
  Hooks hooks_;
  bool log_packets_;

  bool multiprocess_ = false;
  bool swbreak_ = false;
  bool extended_mode_ = false;
  bool lldb_client_ = false;    // said QThreadSuffixSupported, which gdb never does
  bool thread_suffix_ = false;  // g/G/p/P end with ";thread:TID;"
  bool threads_in_stop_reply_ = false;
  bool binary_upload_ = false;       // gdb's x dialect ("b" + data) rather than lldb's
  bool resume_outstanding_ = false;  // a stop reply is owed to the client
  bool resumed_yet_ = false;
  protocol::ThreadId general_thread_{std::nullopt, protocol::ThreadId::kAny};
  protocol::ThreadId continue_thread_{std::nullopt, protocol::ThreadId::kAll};
  std::optional<target::StopEvent> last_stop_;
  bool continued_all_ = false;  // the last resume continued every thread: redone past false
                                // breakpoint conditions
  std::map<std::uint64_t, std::vector<protocol::AgentExpression>> conditions_;
  // For lldb: what the other threads stopped for at the same time (see take_pending_stops).
  std::map<pid_t, target::StopEvent> other_stops_;
  // qXfer documents, built at offset 0 and served in chunks from the copy.
  std::map<std::pair<std::string, std::string>, std::string> transfer_cache_;
  GoSettings& settings_;
  enum class CatchKind : std::uint8_t { kPanic, kFatalError, kRecoveredPanic };
  std::map<std::uint64_t, CatchKind> catch_points_;  // runtime address -> what it catches
  HostFiles host_files_;
  std::optional<symbols::GoBinary> go_binary_;
  std::string go_binary_error_;
  // Both read once: the program's image does not move while gostub debugs it.
  std::optional<std::uint64_t> load_bias_;
  std::optional<symbols::Goroutines> goroutine_reader_;
  std::optional<std::vector<symbols::Goroutine>> goroutines_;        // this stop's; reset on resume
  std::unordered_map<std::int64_t, std::size_t> goroutine_index_;    // goroutine id -> position
  std::optional<std::pair<std::string, std::string>> thread_lists_;  // lldb's threads:, pcs:
  std::optional<std::uint64_t> told_allgs_;  // runtime.allgs as the client's symbols say
  bool asked_for_allgs_ = false;
  // What the client set for the next launch (QEnvironment…, QSetWorkingDir, QSetSTDIN, …).
  target::LaunchOptions launch_settings_;
  // The client's signal settings, for a program started later (QPassSignals, QProgramSignals).
  std::set<int> pass_signals_;
  std::optional<std::set<int>> program_signals_;
  std::string launch_error_;   // lldb's A: told on qLaunchSuccess
  std::string memory_buffer_;  // reused by every m packet
  std::string reply_buffer_;
};

// Goroutine N shown as a thread has this id plus N: above any Linux thread id (pid_max is at
// most 2^22), and readable in decimal.
inline constexpr std::int64_t kGoroutineThreadBase = 1'000'000'000;

// Largest packet we accept and send; advertised in qSupported as PacketSize.
inline constexpr std::size_t kMaxPacketSize = 256 * 1024;

}  // namespace gostub::server
