// Packets as typed commands. parse_command() turns one payload into a Command; every family has
// its own struct, named after the packet. Parsing never throws: malformed input is a ParseError,
// which the session answers with an E reply and goes on.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/agent_expression.hpp"
#include "protocol/tracepoints.hpp"

namespace gostub::protocol {

// A thread id as the protocol writes it: "TID", "pPID.TID", "pPID" (all of its threads);
// 0 means "any", -1 "all".
struct ThreadId {
  static constexpr std::int64_t kAny = 0;
  static constexpr std::int64_t kAll = -1;
  std::optional<std::int64_t> pid;  // present in the multiprocess form
  std::int64_t tid = kAll;

  bool operator==(const ThreadId&) const = default;
};
std::optional<ThreadId> parse_thread_id(std::string_view text);
// Multiprocess form "pPID.TID" when `multiprocess` (the client said multiprocess+), else "TID".
std::string format_thread_id(std::int64_t pid, std::int64_t tid, bool multiprocess);

struct QuerySupported {
  std::vector<std::string> features;  // as sent: "multiprocess+", "xmlRegisters=i386", ...
};
struct StartNoAckMode {};
struct QueryHaltReason {};  // ?
struct ReadRegisters {};    // g
struct WriteRegisters {     // G
  std::string bytes;
};
struct ReadRegister {  // p
  std::uint32_t regno;
};
struct WriteRegister {  // P
  std::uint32_t regno;
  std::string bytes;
};
struct ReadMemory {  // m
  std::uint64_t address;
  std::uint64_t length;
};
struct WriteMemory {  // M (hex) and X (binary), already decoded
  std::uint64_t address;
  std::string bytes;
};
enum class BreakpointType : std::uint8_t {
  kSoftware = 0,
  kHardware = 1,
  kWriteWatch = 2,
  kReadWatch = 3,
  kAccessWatch = 4
};
struct InsertBreakpoint {  // Z
  BreakpointType type;
  std::uint64_t address;
  std::uint64_t kind;
  // ";X…" agent expressions: stop only when one of them is non-zero (ConditionalBreakpoints)
  std::vector<AgentExpression> conditions;
  // ";cmds:PERSIST,X…" agent expressions run at each hit (gdb's agent dprintf: printf ops),
  // BreakpointCommands+
  std::vector<AgentExpression> commands = {};
  bool persist = false;
};
struct RemoveBreakpoint {  // z
  BreakpointType type;
  std::uint64_t address;
  std::uint64_t kind;
};
struct QueryResumeActions {};  // vCont?
enum class ResumeKind : std::uint8_t { kContinue, kStep, kStop };
struct ResumeAction {
  ResumeKind kind;
  int signal = 0;                  // gdb's signal number; 0 for none
  std::optional<ThreadId> thread;  // absent: applies to every thread not named before it
  // Range stepping (vCont;rSTART,END): a step that goes on while the pc is in [start, end).
  std::uint64_t range_start = 0, range_end = 0;
};
struct Resume {  // vCont and the legacy c, C, s, S
  std::vector<ResumeAction> actions;
  bool legacy = false;  // c/s/C/S: the thread set by Hc applies
};
struct SetThread {  // Hg / Hc
  char operation;   // 'g' or 'c'
  ThreadId thread;
};
struct QueryThreadListFirst {};  // qfThreadInfo
struct QueryThreadListNext {};   // qsThreadInfo
struct QueryThreadAlive {        // T
  ThreadId thread;
};
struct QueryTlsAddress {  // qGetTLSAddr:THREAD,OFFSET,LM
  ThreadId thread;
  std::uint64_t offset;
  std::uint64_t link_map;
};
struct QueryCurrentThread {};  // qC
struct QueryAttached {         // qAttached
  std::optional<std::int64_t> pid;
};
struct TransferRead {  // qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH
  std::string object;
  std::string annex;
  std::uint64_t offset;
  std::uint64_t length;
};
struct TransferWrite {  // qXfer:OBJECT:write:ANNEX:OFFSET:DATA (binary, unescaped here)
  std::string object;
  std::string annex;
  std::uint64_t offset;
  std::string data;
};
struct QueryWatchpointSupport {};  // lldb's qWatchpointSupportInfo (with or without ':')
struct Kill {                      // k, vKill;PID
  std::optional<std::int64_t> pid;
  bool answered = false;  // vKill, which always gets a reply (even "vKill;" with no pid)
};
struct Detach {  // D, D;PID
  std::optional<std::int64_t> pid;
};
struct MonitorCommand {  // qRcmd,HEX
  std::string text;
};
struct QueryOffsets {};  // qOffsets
struct QuerySymbol {     // qSymbol::, qSymbol:VALUE:NAME
  std::string payload;   // the part after "qSymbol:"
};
struct QueryTraceStatus {};  // qTStatus
struct PassSignals {         // QPassSignals:a;b;…
  std::vector<int> signals;  // gdb's numbering
};
struct ProgramSignals {  // QProgramSignals:a;b;…
  std::vector<int> signals;
};
struct CatchSyscalls {  // QCatchSyscalls:0, QCatchSyscalls:1[;NR;…] (hex system call numbers)
  bool enable = false;
  std::vector<std::uint64_t> numbers;  // empty with enable: every system call
};
struct ThreadEvents {  // QThreadEvents:1, QThreadEvents:0: thread create/exit stops
  bool enable = false;
};
struct SetNonStop {  // QNonStop:1, QNonStop:0: gdb's non-stop mode on or off
  bool enable = false;
};
struct StoppedAck {};          // vStopped: the client took the last %Stop; the next, or OK
struct CtrlC {};               // vCtrlC: non-stop's Ctrl-C (all-stop sends a bare 0x03)
struct EnableExtendedMode {};  // !
struct Restart {};             // R XX: extended mode's restart of the last program (no reply)
// Host I/O (vFile:…): gdb reads the program, /proc files and libraries through the server, and
// `remote put`/`remote delete` write and remove files on the server's machine.
struct HostSetFs {  // vFile:setfs:PID; 0 names the server's own filesystem
  std::int64_t pid;
};
struct HostOpen {  // vFile:open:HEXPATH,FLAGS,MODE (gdb's fileio flag values)
  std::string path;
  std::uint64_t flags;
  std::uint64_t mode;
};
struct HostPread {  // vFile:pread:FD,COUNT,OFFSET
  std::int64_t fd;
  std::uint64_t count;
  std::uint64_t offset;
};
struct HostPwrite {  // vFile:pwrite:FD,OFFSET,DATA (DATA binary, escaped)
  std::int64_t fd;
  std::uint64_t offset;
  std::string data;
};
struct HostUnlink {  // vFile:unlink:HEXPATH
  std::string path;
};
struct HostClose {  // vFile:close:FD
  std::int64_t fd;
};
struct HostFstat {  // vFile:fstat:FD
  std::int64_t fd;
};
struct HostReadlink {  // vFile:readlink:HEXPATH
  std::string path;
};
// lldb's extensions (lldb/docs/resources/lldbgdbremote.md).
struct EnableThreadSuffix {};        // QThreadSuffixSupported: ";thread:TID;" ends g/p/P/G
struct EnableThreadsInStopReply {};  // QListThreadsInStopReply
struct QueryHostInfo {};             // qHostInfo
struct QueryProcessInfo {};          // qProcessInfo
struct QueryWorkingDirectory {};     // qGetWorkingDir
struct QueryThreadStopInfo {         // qThreadStopInfoTID
  std::int64_t tid;
};
struct QueryThreadsInfo {};  // jThreadsInfo
struct QueryMemoryRegion {   // qMemoryRegionInfo:ADDR
  std::uint64_t address;
};
struct ReadMemoryBinary {  // x ADDR,LENGTH
  std::uint64_t address;
  std::uint64_t length;
};
struct QueryRegisterInfo {  // qRegisterInfoN (hex): one register's description
  std::uint64_t regno;
};
struct AllocateMemory {  // _MSIZE,PERMISSIONS (e.g. "_M100,rwx"): memory in the program
  std::uint64_t size;
  bool readable = false;
  bool writable = false;
  bool executable = false;
};
struct DeallocateMemory {  // _mADDR
  std::uint64_t address;
};

// Launching and attaching from the client (gdb's extended-remote run/attach, lldb's launch).
struct Run {  // vRun;PROGRAM;ARG…  (hex); lldb: A LEN,N,ARG,… (hex), then qLaunchSuccess
  std::vector<std::string> argv;  // argv[0] empty: the program gostub was started with
  bool lldb_style = false;        // "A": reply OK and report the stop on qLaunchSuccess/?
};
struct QueryLaunchSuccess {};  // qLaunchSuccess
struct Attach {                // vAttach;PID
  std::int64_t pid;
};
struct SetLaunchSetting {  // QSetSTDIN/STDOUT/STDERR, QSetWorkingDir, QSetDisableASLR,
                           // QEnvironment…
  enum class What : std::uint8_t {
    kStdin,
    kStdout,
    kStderr,
    kWorkingDirectory,
    kDisableAslr,
    kEnvironmentSet,    // value: "NAME=VALUE"
    kEnvironmentUnset,  // value: NAME
    kEnvironmentReset,
    kLaunchArch,
  } what;
  std::string value;
};
// A packet we know and deliberately answer with the empty reply; `reason` is logged.
struct Declined {
  std::string_view reason;
};
// Not a packet we know: answered with the empty reply, as the protocol requires.
struct Unknown {};

using Command = std::variant<
    QuerySupported, StartNoAckMode, QueryHaltReason, ReadRegisters, WriteRegisters, ReadRegister,
    WriteRegister, ReadMemory, WriteMemory, InsertBreakpoint, RemoveBreakpoint, QueryResumeActions,
    Resume, SetThread, QueryThreadListFirst, QueryThreadListNext, QueryThreadAlive, QueryTlsAddress,
    QueryCurrentThread, QueryAttached, TransferRead, TransferWrite, QueryWatchpointSupport, Kill,
    Detach, MonitorCommand, QueryOffsets, QuerySymbol, QueryTraceStatus, PassSignals,
    ProgramSignals, CatchSyscalls, ThreadEvents, SetNonStop, StoppedAck, CtrlC, EnableExtendedMode,
    Restart, HostSetFs, HostOpen, HostPread, HostPwrite, HostUnlink, HostClose, HostFstat,
    HostReadlink, EnableThreadSuffix, EnableThreadsInStopReply, QueryHostInfo, QueryProcessInfo,
    QueryWorkingDirectory, QueryThreadStopInfo, QueryThreadsInfo, QueryMemoryRegion,
    ReadMemoryBinary, QueryRegisterInfo, AllocateMemory, DeallocateMemory, Run, QueryLaunchSuccess,
    Attach, SetLaunchSetting, TraceInit, TraceDefine, TraceDefineActions, TraceSource,
    TraceVariable, TraceStart, TraceStop, TraceSelectFrame, TraceBufferSetting, TraceDisconnected,
    TraceReadOnly, TraceNotes, TraceEnable, QueryTracepointFirst, QueryTracepointNext,
    QueryTraceVariableFirst, QueryTraceVariableNext, QueryTracepointHits, QueryTraceVariable,
    Declined, Unknown>;

struct ParseError {
  std::string message;
};

std::expected<Command, ParseError> parse_command(std::string_view payload);

// lldb's thread suffix: removes a trailing ";thread:TID;" from `payload` and returns the id.
std::optional<ThreadId> take_thread_suffix(std::string_view& payload);

// The dispatch table, exposed for the test that no entry shadows a later one.
struct PacketPattern {
  std::string_view name;
  bool exact;  // true: the whole payload; false: a prefix
};
std::span<const PacketPattern> packet_patterns();

}  // namespace gostub::protocol
