// One client's protocol session: what the client said (ClientProfile), its thread selection,
// whether a stop reply is owed, and thin handlers that map each packet family onto the
// program model (Programs, Program). One handler per packet family, named after it; what the
// handlers answer is a Reply, rendered for the client's dialect in one place (send()).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "protocol/commands.hpp"
#include "server/client_profile.hpp"
#include "server/gdbserver_options.hpp"
#include "server/host_io.hpp"
#include "server/launch_settings.hpp"
#include "server/memory_replies.hpp"
#include "server/monitor.hpp"
#include "server/packet_sink.hpp"
#include "server/programs.hpp"
#include "server/reply.hpp"
#include "server/stop_replies.hpp"
#include "server/transfers.hpp"

namespace gostub::server {

// What gostub's command line says about every session.
struct SessionOptions {
  DisabledPackets disabled;  // --disable-packet
  // How vRun starts programs (--wrapper, --[no-]startup-with-shell,
  // --[no-]disable-randomization) until the client's packets say otherwise.
  target::LaunchOptions launch;
};

class GdbSession {
 public:
  struct Hooks {
    std::function<void()> request_exit;  // `monitor exit`: end gostub after this reply
  };

  GdbSession(Programs& programs, std::shared_ptr<PacketSink> sink, Hooks hooks,
             GoSettings& settings, SessionOptions options = {});
  // A client that leaves ends the programs' trace runs unless it asked for disconnected tracing.
  ~GdbSession();
  GdbSession(const GdbSession&) = delete;
  GdbSession& operator=(const GdbSession&) = delete;

  void on_packet(std::string_view payload);
  void on_interrupt();
  // A stop seen by the event loop: of `stopped`, or of the current program.
  void on_stop(Program& stopped, const StopReport& report);
  void on_stop(const StopReport& report);
  // Sends what breakpoint commands printed (agent dprintf) while the program runs.
  void on_program_output(Program& running);
  // gostub's own console message, sent while the program runs (non-stop only: all-stop's
  // client reads O packets only while it waits for a stop reply, and then it is told).
  // Returns whether it was sent.
  bool on_console(std::string_view text);
  bool extended_mode() const { return profile_.extended_mode(); }

 private:
  Reply dispatch(const protocol::Command& command);
  void send(const Reply& reply);
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
  Reply handle(const protocol::QueryTlsAddress& command);
  Reply handle(const protocol::QueryCurrentThread& command);
  Reply handle(const protocol::QueryAttached& command);
  Reply handle(const protocol::TransferRead& command);
  Reply handle(const protocol::TransferWrite& command);  // $_siginfo changes
  Reply handle(const protocol::QueryWatchpointSupport& command);
  Reply handle(const protocol::Kill& command);
  Reply handle(const protocol::Detach& command);
  Reply handle(const protocol::MonitorCommand& command);
  Reply handle(const protocol::QueryOffsets& command);
  Reply handle(const protocol::QuerySymbol& command);
  Reply handle(const protocol::QueryTraceStatus& command);
  Reply handle(const protocol::PassSignals& command);
  Reply handle(const protocol::ProgramSignals& command);
  Reply handle(const protocol::CatchSyscalls& command);
  Reply handle(const protocol::ThreadEvents& command);
  Reply handle(const protocol::SetNonStop& command);
  Reply handle(const protocol::StoppedAck& command);
  Reply handle(const protocol::CtrlC& command);
  Reply handle(const protocol::EnableExtendedMode& command);
  Reply handle(const protocol::Restart& command);
  Reply handle(const protocol::HostSetFs& command);
  Reply handle(const protocol::HostOpen& command);
  Reply handle(const protocol::HostPread& command);
  Reply handle(const protocol::HostClose& command);
  Reply handle(const protocol::HostFstat& command);
  Reply handle(const protocol::HostReadlink& command);
  Reply handle(const protocol::HostPwrite& command);
  Reply handle(const protocol::HostUnlink& command);
  Reply handle(const protocol::Run& command);
  Reply handle(const protocol::QueryLaunchSuccess& command);
  Reply handle(const protocol::Attach& command);
  Reply handle(const protocol::SetLaunchSetting& command);
  // Tracepoints (gdb_session_trace.cpp).
  Reply handle(const protocol::TraceInit& command);
  Reply handle(const protocol::TraceDefine& command);
  Reply handle(const protocol::TraceDefineActions& command);
  Reply handle(const protocol::TraceSource& command);
  Reply handle(const protocol::TraceVariable& command);
  Reply handle(const protocol::TraceStart& command);
  Reply handle(const protocol::TraceStop& command);
  Reply handle(const protocol::TraceSelectFrame& command);
  Reply handle(const protocol::TraceBufferSetting& command);
  Reply handle(const protocol::TraceDisconnected& command);
  Reply handle(const protocol::TraceReadOnly& command);
  Reply handle(const protocol::TraceNotes& command);
  Reply handle(const protocol::TraceEnable& command);
  Reply handle(const protocol::QueryTracepointFirst& command);
  Reply handle(const protocol::QueryTracepointNext& command);
  Reply handle(const protocol::QueryTraceVariableFirst& command);
  Reply handle(const protocol::QueryTraceVariableNext& command);
  Reply handle(const protocol::QueryTracepointHits& command);
  Reply handle(const protocol::QueryTraceVariable& command);
  Reply handle(const protocol::Declined& command);
  Reply handle(const protocol::Unknown& command);
  // lldb's extensions (gdb_session_lldb.cpp).
  Reply handle(const protocol::EnableThreadSuffix& command);
  Reply handle(const protocol::EnableThreadsInStopReply& command);
  Reply handle(const protocol::QueryHostInfo& command);
  Reply handle(const protocol::QueryProcessInfo& command);
  Reply handle(const protocol::QueryWorkingDirectory& command);
  Reply handle(const protocol::QueryThreadStopInfo& command);
  Reply handle(const protocol::QueryThreadsInfo& command);
  Reply handle(const protocol::QueryMemoryRegion& command);
  Reply handle(const protocol::ReadMemoryBinary& command);
  Reply handle(const protocol::QueryRegisterInfo& command);
  Reply handle(const protocol::AllocateMemory& command);
  Reply handle(const protocol::DeallocateMemory& command);

  // The program the client debugs now; the one a thread id names (its pid, else the current).
  Program* program() const { return programs_.current(); }
  Program* program_named(const protocol::ThreadId& id) const;
  // Whether a resume action's thread id covers `candidate` (pPID, p-1, or no pid: current).
  bool names(const protocol::ThreadId& id, const Program& candidate) const;
  // All-stop: the programs still running when `told`'s stop is reported are stopped.
  void stop_other_programs(Program& told);
  // A fork child held at `stop` becomes a program of its own.
  void keep_fork_child(Program& parent, const target::StopEvent& stop);
  bool running_thread(ClientThread thread) const;
  // What this client asked to hear of, for a program it has not seen yet.
  void configure(Program& program);
  // The pid a vKill;PID or D;PID names: none without multiprocess (gdb sends a placeholder).
  std::optional<pid_t> pid_named(std::optional<std::int64_t> pid) const;
  // The held fork child Hg names, if it names one; else 0.
  pid_t selected_fork_child() const;
  // The thread a register or memory access applies to: `chosen` when it is one, else the
  // last stop's, else the first.
  std::optional<ClientThread> selected_thread(const protocol::ThreadId& chosen) const;
  // QPassSignals and QProgramSignals: the client's numbers as a set of Linux signals.
  std::set<int> linux_signals(const std::vector<int>& wire_signals) const;
  // A program the client started or attached: protocol state about the old one is dropped.
  Reply adopt(target::Result<Program*> program, bool lldb_style, int stop_signal);
  void send_console(std::string_view text);
  // Non-stop: a stop reply queued for the client; sent as %Stop when it is the only one, else
  // after the client's vStopped for the ones before it.
  // A stop reply waiting in the vStopped queue, with what it is about: a wildcard resume leaves
  // that thread, and a fork child gdb has not heard of yet, stopped (gdbserver's rule).
  struct QueuedStop {
    std::string reply;
    pid_t pid = 0;
    pid_t tid = 0;
    pid_t fork_child = 0;
  };
  QueuedStop queued(Program& program, const target::StopEvent& stop);
  void queue_stop_notification(QueuedStop stop);
  // Whether a wildcard resume must leave this thread alone (its stop, or its parent's fork
  // stop, is still queued).
  bool held_for_queued_stop(pid_t pid, pid_t tid) const;
  void on_stop_non_stop(Program& stopped, const StopReport& report);
  void forget_thread_stops(pid_t pid);  // the program ended or was let go
  Reply resume_non_stop(std::vector<std::pair<Program*, std::vector<target::ThreadAction>>>& plans,
                        const std::vector<std::pair<Program*, std::vector<pid_t>>>& stops);
  Reply halt_reason_non_stop();
  // Z1-Z4 (and z): hardware breakpoints and watchpoints.
  Reply hardware_point(protocol::BreakpointType type, std::uint64_t address, std::uint64_t length,
                       bool insert);
  Reply siginfo_read(const protocol::TransferRead& command);
  // While a trace frame is selected (QTFrame), g, p and m answer from it and writes fail.
  const TraceFrame* trace_frame() const;
  Reply trace_frame_registers(const TraceFrame& frame, std::optional<std::uint32_t> regno) const;
  Reply trace_frame_memory(const TraceFrame& frame, std::uint64_t address, std::uint64_t length);
  Reply traceframe_info(const protocol::TransferRead& command);
  static Reply no_writes_in_trace_frame();
  Reply next_line(std::vector<std::string>& lines);
  Reply installed_when_complete(bool more);

  Programs& programs_;
  std::shared_ptr<PacketSink> sink_;
  Hooks hooks_;
  DisabledPackets disabled_;
  ClientProfile profile_;
  protocol::ThreadId general_thread_{std::nullopt, protocol::ThreadId::kAny};
  protocol::ThreadId continue_thread_{std::nullopt, protocol::ThreadId::kAll};
  bool resume_outstanding_ = false;  // a stop reply is owed to the client (all-stop)
  // Non-stop (QNonStop:1): packets are served while threads run; each stop is a notification.
  bool non_stop_ = false;
  std::chrono::steady_clock::time_point last_packet_{};  // when the client last sent one
  // Stop replies not yet acknowledged by vStopped; the first has been sent (%Stop or as the
  // answer to vStopped or `?`), the others wait for it.
  std::deque<QueuedStop> notifications_;
  // Non-stop: each stopped thread's last stop as told (`?` tells every stopped thread's).
  std::map<std::pair<pid_t, pid_t>, target::StopEvent> thread_stops_;
  // The client's signal settings, also for a program started later.
  SignalSettings signals_;
  StopReplies stop_replies_{profile_, disabled_};
  Transfers transfers_;
  MonitorCommands monitor_;
  HostFiles host_files_;
  LaunchSettings launch_settings_;
  MemoryReplies memory_;
  // The trace frame the client looks at (QTFrame), and qTfP/qTfV's lines still to send.
  std::optional<std::size_t> trace_frame_;
  std::vector<std::string> trace_lines_;
};

}  // namespace gostub::server
