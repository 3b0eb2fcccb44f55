#include "protocol/commands.hpp"

#include <array>
#include <charconv>

#include "protocol/framing.hpp"
#include "protocol/hex.hpp"

namespace gostub::protocol {

namespace {

using Result = std::expected<Command, ParseError>;

std::unexpected<ParseError> fail(std::string message) {
  return std::unexpected(ParseError{std::move(message)});
}

// Splits "a<sep>b" at the first separator; nullopt when there is none.
std::optional<std::pair<std::string_view, std::string_view>> split_once(std::string_view text,
                                                                        char separator) {
  const auto at = text.find(separator);
  if (at == std::string_view::npos) return std::nullopt;
  return std::pair{text.substr(0, at), text.substr(at + 1)};
}

std::optional<std::int64_t> parse_id_value(std::string_view text) {
  if (text == "-1") return ThreadId::kAll;
  const auto value = parse_hex_number(text);
  if (!value || *value > static_cast<std::uint64_t>(INT32_MAX)) return std::nullopt;
  return static_cast<std::int64_t>(*value);
}

// "ADDR,LENGTH" as used by m, M, X and qXfer.
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_address_length(std::string_view text) {
  const auto parts = split_once(text, ',');
  if (!parts) return std::nullopt;
  const auto address = parse_hex_number(parts->first);
  const auto length = parse_hex_number(parts->second);
  if (!address || !length) return std::nullopt;
  return std::pair{*address, *length};
}

std::optional<std::vector<int>> parse_signal_list(std::string_view text) {
  std::vector<int> signals;
  while (!text.empty()) {
    const auto end = text.find(';');
    const auto item = text.substr(0, end);
    const auto value = parse_hex_number(item);
    if (!value || *value > 255) return std::nullopt;
    signals.push_back(static_cast<int>(*value));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return signals;
}

Result parse_supported(std::string_view args) {
  QuerySupported command;
  if (args.empty()) return command;
  if (args.front() != ':') return fail("qSupported: expected ':'");
  args.remove_prefix(1);
  while (!args.empty()) {
    const auto end = args.find(';');
    if (end != 0) command.features.emplace_back(args.substr(0, end));
    if (end == std::string_view::npos) break;
    args.remove_prefix(end + 1);
  }
  return command;
}

Result parse_write_registers(std::string_view args) {
  auto bytes = from_hex(args);
  if (!bytes) return fail("G: register data is not hex");
  return WriteRegisters{std::move(*bytes)};
}

Result parse_read_register(std::string_view args) {
  const auto regno = parse_hex_number(args);
  if (!regno || *regno > UINT32_MAX) return fail("p: bad register number");
  return ReadRegister{static_cast<std::uint32_t>(*regno)};
}

Result parse_write_register(std::string_view args) {
  const auto parts = split_once(args, '=');
  if (!parts) return fail("P: expected '='");
  const auto regno = parse_hex_number(parts->first);
  auto bytes = from_hex(parts->second);
  if (!regno || *regno > UINT32_MAX || !bytes) return fail("P: bad register number or value");
  return WriteRegister{static_cast<std::uint32_t>(*regno), std::move(*bytes)};
}

Result parse_read_memory(std::string_view args) {
  const auto range = parse_address_length(args);
  if (!range) return fail("m: expected ADDR,LENGTH");
  return ReadMemory{range->first, range->second};
}

Result parse_write_memory_hex(std::string_view args) {
  const auto parts = split_once(args, ':');
  if (!parts) return fail("M: expected ':'");
  const auto range = parse_address_length(parts->first);
  auto bytes = from_hex(parts->second);
  if (!range || !bytes) return fail("M: expected ADDR,LENGTH:HEX");
  if (bytes->size() != range->second) return fail("M: length does not match the data");
  return WriteMemory{range->first, std::move(*bytes)};
}

Result parse_write_memory_binary(std::string_view args) {
  const auto parts = split_once(args, ':');
  if (!parts) return fail("X: expected ':'");
  const auto range = parse_address_length(parts->first);
  auto bytes = unescape_binary(parts->second);
  if (!range || !bytes) return fail("X: expected ADDR,LENGTH:DATA");
  if (bytes->size() != range->second) return fail("X: length does not match the data");
  return WriteMemory{range->first, std::move(*bytes)};
}

struct BreakpointFields {
  BreakpointType type;
  std::uint64_t address;
  std::uint64_t kind;
  std::string_view conditions;  // what follows KIND, ';' included; empty when none
};

std::optional<BreakpointFields> parse_breakpoint(std::string_view args) {
  // TYPE,ADDR,KIND[;cond_list…][;cmds:…]
  const auto conditions_at = args.find(';');
  const auto head = args.substr(0, conditions_at);
  const auto first = split_once(head, ',');
  if (!first || first->first.size() != 1) return std::nullopt;
  const int type = first->first[0] - '0';
  if (type < 0 || type > 4) return std::nullopt;
  const auto rest = parse_address_length(first->second);
  if (!rest) return std::nullopt;
  return BreakpointFields{
      static_cast<BreakpointType>(type), rest->first, rest->second,
      conditions_at == std::string_view::npos ? std::string_view() : args.substr(conditions_at)};
}

Result parse_insert_breakpoint(std::string_view args) {
  const auto fields = parse_breakpoint(args);
  if (!fields) return fail("Z: expected TYPE,ADDR,KIND");
  auto lists = parse_breakpoint_agent_lists(fields->conditions);
  if (!lists) return fail("Z: bad condition or command: " + lists.error());
  return InsertBreakpoint{fields->type,
                          fields->address,
                          fields->kind,
                          std::move(lists->conditions),
                          std::move(lists->commands),
                          lists->persist};
}

Result parse_remove_breakpoint(std::string_view args) {
  const auto fields = parse_breakpoint(args);
  if (!fields || !fields->conditions.empty()) return fail("z: expected TYPE,ADDR,KIND");
  return RemoveBreakpoint{fields->type, fields->address, fields->kind};
}

std::optional<ResumeAction> parse_resume_action(std::string_view text) {
  std::optional<ThreadId> thread;
  if (const auto parts = split_once(text, ':')) {
    thread = parse_thread_id(parts->second);
    if (!thread) return std::nullopt;
    text = parts->first;
  }
  if (text.empty()) return std::nullopt;
  ResumeAction action{ResumeKind::kContinue, 0, thread};
  const char letter = text.front();
  const auto signal_text = text.substr(1);
  switch (letter) {
    case 'c':
    case 's':
    case 't':
      if (!signal_text.empty()) return std::nullopt;
      action.kind = letter == 'c'   ? ResumeKind::kContinue
                    : letter == 's' ? ResumeKind::kStep
                                    : ResumeKind::kStop;
      return action;
    case 'C':
    case 'S': {
      const auto signal = parse_hex_number(signal_text);
      if (!signal || *signal > 255) return std::nullopt;
      action.kind = letter == 'C' ? ResumeKind::kContinue : ResumeKind::kStep;
      action.signal = static_cast<int>(*signal);
      return action;
    }
    case 'r': {
      const auto range = split_once(signal_text, ',');
      const auto start = range ? parse_hex_number(range->first) : std::nullopt;
      const auto end = range ? parse_hex_number(range->second) : std::nullopt;
      if (!start || !end) return std::nullopt;
      action.kind = ResumeKind::kStep;
      action.range_start = *start;
      action.range_end = *end;
      return action;
    }
    default:
      return std::nullopt;
  }
}

Result parse_vcont(std::string_view args) {
  Resume command;
  while (!args.empty()) {
    const auto end = args.find(';');
    const auto action = parse_resume_action(args.substr(0, end));
    if (!action) return fail("vCont: bad action");
    command.actions.push_back(*action);
    if (end == std::string_view::npos) break;
    args.remove_prefix(end + 1);
  }
  if (command.actions.empty()) return fail("vCont: no action");
  return command;
}

// c [ADDR], s [ADDR], C SIG[;ADDR], S SIG[;ADDR]. Resuming at another address is not offered.
Result parse_legacy_resume(char letter, std::string_view args) {
  ResumeAction action{letter == 'c' || letter == 'C' ? ResumeKind::kContinue : ResumeKind::kStep, 0,
                      std::nullopt};
  if (letter == 'C' || letter == 'S') {
    const auto signal = parse_hex_number(args.substr(0, args.find(';')));
    if (!signal || *signal > 255) return fail("C/S: bad signal");
    action.signal = static_cast<int>(*signal);
    if (args.find(';') != std::string_view::npos)
      return fail("C/S: resuming at ADDR is not supported");
  } else if (!args.empty()) {
    return fail("c/s: resuming at ADDR is not supported");
  }
  return Resume{{action}, true};
}

Result parse_set_thread(std::string_view args) {
  if (args.empty() || (args.front() != 'g' && args.front() != 'c'))
    return fail("H: expected g or c");
  const auto thread = parse_thread_id(args.substr(1));
  if (!thread) return fail("H: bad thread id");
  return SetThread{args.front(), *thread};
}

Result parse_thread_alive(std::string_view args) {
  const auto thread = parse_thread_id(args);
  if (!thread) return fail("T: bad thread id");
  return QueryThreadAlive{*thread};
}

Result parse_tls_address(std::string_view args) {
  const auto thread = split_once(args, ',');
  const auto rest = thread ? split_once(thread->second, ',') : std::nullopt;
  if (!rest) return fail("qGetTLSAddr: expected THREAD,OFFSET,LM");
  const auto id = parse_thread_id(thread->first);
  const auto offset = parse_hex_number(rest->first);
  const auto link_map = parse_hex_number(rest->second);
  if (!id || !offset || !link_map) return fail("qGetTLSAddr: bad THREAD, OFFSET or LM");
  return QueryTlsAddress{*id, *offset, *link_map};
}

Result parse_transfer_write(std::string_view object, std::string_view args) {
  // ANNEX:OFFSET:DATA — the data is binary and may hold ':', the annex and offset may not.
  const auto annex = split_once(args, ':');
  if (!annex) return fail("qXfer write: expected ANNEX:OFFSET:DATA");
  const auto offset = split_once(annex->second, ':');
  if (!offset) return fail("qXfer write: expected OFFSET:DATA");
  const auto value = parse_hex_number(offset->first);
  auto data = unescape_binary(offset->second);
  if (!value || !data) return fail("qXfer write: bad OFFSET or DATA");
  return TransferWrite{std::string(object), std::string(annex->first), *value, std::move(*data)};
}

Result parse_transfer(std::string_view args) {
  // OBJECT:read:ANNEX:OFFSET,LENGTH or OBJECT:write:ANNEX:OFFSET:DATA
  const auto object = split_once(args, ':');
  if (!object) return fail("qXfer: expected OBJECT:");
  const auto operation = split_once(object->second, ':');
  if (!operation) return fail("qXfer: expected an operation");
  if (operation->first == "write") return parse_transfer_write(object->first, operation->second);
  if (operation->first != "read") return fail("qXfer: unknown operation");
  const auto last_colon = operation->second.rfind(':');
  if (last_colon == std::string_view::npos) return fail("qXfer: expected ANNEX:OFFSET,LENGTH");
  const auto range = parse_address_length(operation->second.substr(last_colon + 1));
  if (!range) return fail("qXfer: bad OFFSET,LENGTH");
  return TransferRead{std::string(object->first),
                      std::string(operation->second.substr(0, last_colon)), range->first,
                      range->second};
}

Result parse_optional_pid(std::string_view args, bool is_kill) {
  std::optional<std::int64_t> pid;
  if (!args.empty()) {
    const auto value = parse_hex_number(args);
    if (!value || *value > INT32_MAX) return fail("bad process id");
    pid = static_cast<std::int64_t>(*value);
  }
  if (is_kill) return Kill{pid, true};
  return Detach{pid};
}

Result parse_attached(std::string_view args) {
  if (args.empty()) return QueryAttached{};
  const auto value = parse_hex_number(args);
  if (!value || *value > INT32_MAX) return fail("qAttached: bad process id");
  return QueryAttached{static_cast<std::int64_t>(*value)};
}

Result parse_monitor(std::string_view args) {
  auto text = from_hex(args);
  if (!text) return fail("qRcmd: command is not hex");
  return MonitorCommand{std::move(*text)};
}

Result parse_pass_signals(std::string_view args) {
  auto signals = parse_signal_list(args);
  if (!signals) return fail("QPassSignals: bad signal list");
  return PassSignals{std::move(*signals)};
}

Result parse_program_signals(std::string_view args) {
  auto signals = parse_signal_list(args);
  if (!signals) return fail("QProgramSignals: bad signal list");
  return ProgramSignals{std::move(*signals)};
}

Result parse_catch_syscalls(std::string_view args) {
  if (args == "0") return CatchSyscalls{};
  if (!args.starts_with('1')) return fail("QCatchSyscalls: neither 0 nor 1");
  args.remove_prefix(1);
  CatchSyscalls out{true, {}};
  while (!args.empty()) {
    if (args.front() != ';') return fail("QCatchSyscalls: ';' expected");
    args.remove_prefix(1);
    const auto end = args.find(';');
    const auto number = parse_hex_number(args.substr(0, end));
    if (!number || *number > 0xffff) return fail("QCatchSyscalls: bad system call number");
    out.numbers.push_back(*number);
    args = end == std::string_view::npos ? std::string_view{} : args.substr(end);
  }
  return out;
}

// Comma-separated hex numbers, exactly `count` of them.
std::optional<std::vector<std::uint64_t>> parse_hex_fields(std::string_view text,
                                                           std::size_t count) {
  std::vector<std::uint64_t> fields;
  while (fields.size() < count) {
    const auto end = text.find(',');
    const auto value = parse_hex_number(text.substr(0, end));
    if (!value) return std::nullopt;
    fields.push_back(*value);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  if (fields.size() != count) return std::nullopt;
  return fields;
}

Result parse_host_setfs(std::string_view args) {
  const auto pid = parse_hex_number(args);
  if (!pid || *pid > INT32_MAX) return fail("vFile:setfs: bad pid");
  return HostSetFs{static_cast<std::int64_t>(*pid)};
}

Result parse_host_open(std::string_view args) {
  const auto comma = args.find(',');
  if (comma == std::string_view::npos) return fail("vFile:open: expected PATH,FLAGS,MODE");
  auto path = from_hex(args.substr(0, comma));
  const auto fields = parse_hex_fields(args.substr(comma + 1), 2);
  if (!path || !fields) return fail("vFile:open: expected PATH,FLAGS,MODE");
  return HostOpen{std::move(*path), (*fields)[0], (*fields)[1]};
}

Result parse_host_pread(std::string_view args) {
  const auto fields = parse_hex_fields(args, 3);
  if (!fields || (*fields)[0] > INT32_MAX) return fail("vFile:pread: expected FD,COUNT,OFFSET");
  return HostPread{static_cast<std::int64_t>((*fields)[0]), (*fields)[1], (*fields)[2]};
}

Result parse_host_pwrite(std::string_view args) {
  // FD,OFFSET,DATA — the data is binary and may hold ','; the numbers may not.
  const auto fd = split_once(args, ',');
  if (!fd) return fail("vFile:pwrite: expected FD,OFFSET,DATA");
  const auto offset = split_once(fd->second, ',');
  if (!offset) return fail("vFile:pwrite: expected FD,OFFSET,DATA");
  const auto fd_value = parse_hex_number(fd->first);
  const auto offset_value = parse_hex_number(offset->first);
  auto data = unescape_binary(offset->second);
  if (!fd_value || *fd_value > INT32_MAX || !offset_value || !data) {
    return fail("vFile:pwrite: bad FD, OFFSET or DATA");
  }
  return HostPwrite{static_cast<std::int64_t>(*fd_value), *offset_value, std::move(*data)};
}

Result parse_host_unlink(std::string_view args) {
  auto path = from_hex(args);
  if (!path) return fail("vFile:unlink: path is not hex");
  return HostUnlink{std::move(*path)};
}

template <typename T>
Result parse_host_fd(std::string_view args) {
  const auto fd = parse_hex_number(args);
  if (!fd || *fd > INT32_MAX) return fail("vFile: bad file descriptor");
  return T{static_cast<std::int64_t>(*fd)};
}

Result parse_host_readlink(std::string_view args) {
  auto path = from_hex(args);
  if (!path) return fail("vFile:readlink: path is not hex");
  return HostReadlink{std::move(*path)};
}

Result parse_thread_stop_info(std::string_view args) {
  const auto tid = parse_hex_number(args);
  if (!tid || *tid > INT32_MAX) return fail("qThreadStopInfo: bad thread id");
  return QueryThreadStopInfo{static_cast<std::int64_t>(*tid)};
}

Result parse_memory_region(std::string_view args) {
  const auto address = parse_hex_number(args);
  if (!address) return fail("qMemoryRegionInfo: bad address");
  return QueryMemoryRegion{*address};
}

Result parse_register_info(std::string_view args) {
  const auto regno = parse_hex_number(args);
  if (!regno) return fail("qRegisterInfo: bad register number");
  return QueryRegisterInfo{*regno};
}

Result parse_allocate_memory(std::string_view args) {
  const auto comma = args.find(',');
  const auto size = parse_hex_number(args.substr(0, comma));
  if (!size || *size == 0 || comma == std::string_view::npos) {
    return fail("_M: expected SIZE,PERMISSIONS");
  }
  AllocateMemory allocate{*size};
  for (const char permission : args.substr(comma + 1)) {
    switch (permission) {
      case 'r':
        allocate.readable = true;
        break;
      case 'w':
        allocate.writable = true;
        break;
      case 'x':
        allocate.executable = true;
        break;
      default:
        return fail("_M: permissions are r, w and x");
    }
  }
  return allocate;
}

Result parse_deallocate_memory(std::string_view args) {
  const auto address = parse_hex_number(args);
  if (!address) return fail("_m: bad address");
  return DeallocateMemory{*address};
}

Result parse_read_memory_binary(std::string_view args) {
  const auto range = parse_address_length(args);
  if (!range) return fail("x: expected ADDR,LENGTH");
  return ReadMemoryBinary{range->first, range->second};
}

template <typename T>
Result no_arguments(std::string_view) {
  return T{};
}

template <char kLetter>
Result legacy_resume(std::string_view args) {
  return parse_legacy_resume(kLetter, args);
}

Result parse_vrun(std::string_view args) {
  Run run;
  for (;;) {
    const auto end = args.find(';');
    auto argument = from_hex(args.substr(0, end));
    if (!argument) return fail("vRun: arguments must be hex");
    run.argv.push_back(std::move(*argument));
    if (end == std::string_view::npos) break;
    args.remove_prefix(end + 1);
  }
  return run;
}

Result parse_lldb_arguments(std::string_view args) {
  // A ARGLEN,ARGNUM,ARG,ARGLEN,ARGNUM,ARG,…: ARGLEN counts hex digits.
  Run run{{}, true};
  while (!args.empty()) {
    const auto first = args.find(',');
    const auto second = first == std::string_view::npos ? first : args.find(',', first + 1);
    if (second == std::string_view::npos) return fail("A: expected LEN,NUM,ARG");
    const auto length = parse_hex_number(args.substr(0, first));
    const auto number = parse_hex_number(args.substr(first + 1, second - first - 1));
    if (!length || !number || *number != run.argv.size() || *length > args.size() - second - 1)
      return fail("A: bad argument length or number");
    auto argument = from_hex(args.substr(second + 1, *length));
    if (!argument) return fail("A: arguments must be hex");
    run.argv.push_back(std::move(*argument));
    args.remove_prefix(second + 1 + *length);
    if (!args.empty() && args.front() == ',') args.remove_prefix(1);
  }
  if (run.argv.empty()) return fail("A: no program");
  return run;
}

Result parse_vattach(std::string_view args) {
  const auto pid = parse_hex_number(args);
  if (!pid || *pid == 0 || *pid > INT32_MAX) return fail("vAttach: bad process id");
  return Attach{static_cast<std::int64_t>(*pid)};
}

template <SetLaunchSetting::What kWhat, bool kHex>
Result launch_setting(std::string_view args) {
  if constexpr (kHex) {
    auto value = from_hex(args);
    if (!value) return fail("expected hex");
    return SetLaunchSetting{kWhat, std::move(*value)};
  } else {
    return SetLaunchSetting{kWhat, std::string(args)};
  }
}

template <const std::string_view& kReason>
Result declined(std::string_view) {
  return Declined{kReason};
}

constexpr std::string_view kNoHostOperation =
    "host I/O offers gdbserver's set: setfs, open, pread, pwrite, close, fstat, unlink, readlink";
constexpr std::string_view kNoTraceFile =
    "trace files are not offered: tsave reads gdbserver's raw buffer (qTBuffer, QTSave)";
constexpr std::string_view kNoCrc = "qCRC is not offered; gdb falls back to reading memory";
constexpr std::string_view kNoExtraInfo = "qXfer:threads:read carries thread names instead";
constexpr std::string_view kNoAttachWait = "attaching to a process not yet started is not offered";
constexpr std::string_view kNoExtendedInfo = "jThreadExtendedInfo describes libdispatch queues";
constexpr std::string_view kNoPlugins = "no structured-data plugins";

template <typename T>
Result trace_packet_with(std::expected<T, std::string> parsed) {
  if (!parsed) return fail(std::move(parsed.error()));
  return std::move(*parsed);
}

template <auto kParse>
Result trace_packet(std::string_view args) {
  return trace_packet_with(kParse(args));
}

struct Entry {
  PacketPattern pattern;
  Result (*parse)(std::string_view arguments);
};

// First match wins. An exact entry matches the whole payload, a prefix entry its start.
// tests/unit/test_commands.cpp checks that no entry is shadowed by an earlier prefix.
constexpr std::array kTable = {
    Entry{{"?", true}, no_arguments<QueryHaltReason>},
    Entry{{"g", true}, no_arguments<ReadRegisters>},
    Entry{{"qfThreadInfo", true}, no_arguments<QueryThreadListFirst>},
    Entry{{"qsThreadInfo", true}, no_arguments<QueryThreadListNext>},
    Entry{{"qC", true}, no_arguments<QueryCurrentThread>},
    Entry{{"qGetTLSAddr:", false}, parse_tls_address},
    Entry{{"vCont?", true}, no_arguments<QueryResumeActions>},
    Entry{{"QStartNoAckMode", true}, no_arguments<StartNoAckMode>},
    Entry{{"qOffsets", true}, no_arguments<QueryOffsets>},
    Entry{{"qTStatus", true}, no_arguments<QueryTraceStatus>},
    Entry{{"k", true}, [](std::string_view) -> Result { return Kill{}; }},
    Entry{{"D", true}, [](std::string_view) -> Result { return Detach{}; }},
    Entry{{"!", true}, no_arguments<EnableExtendedMode>},
    Entry{{"R", false}, [](std::string_view) -> Result { return Restart{}; }},
    Entry{{"qAttached", true}, no_arguments<QueryAttached>},
    Entry{{"qAttached:", false}, parse_attached},
    Entry{{"qSupported", false}, parse_supported},
    Entry{{"qXfer:", false}, parse_transfer},
    Entry{{"qWatchpointSupportInfo", false}, no_arguments<QueryWatchpointSupport>},
    Entry{{"qRcmd,", false}, parse_monitor},
    Entry{{"qSymbol:", false},
          [](std::string_view args) -> Result { return QuerySymbol{std::string(args)}; }},
    Entry{{"QPassSignals:", false}, parse_pass_signals},
    Entry{{"QProgramSignals:", false}, parse_program_signals},
    Entry{{"QCatchSyscalls:", false}, parse_catch_syscalls},
    Entry{{"QThreadEvents:", false},
          [](std::string_view args) -> Result {
            if (args != "0" && args != "1") return fail("QThreadEvents: neither 0 nor 1");
            return ThreadEvents{args == "1"};
          }},
    Entry{{"vCont;", false}, parse_vcont},
    Entry{{"vKill;", false}, [](std::string_view args) { return parse_optional_pid(args, true); }},
    Entry{{"D;", false}, [](std::string_view args) { return parse_optional_pid(args, false); }},
    // Declined on purpose, each with its reason.
    Entry{{"vFile:setfs:", false}, parse_host_setfs},
    Entry{{"vFile:open:", false}, parse_host_open},
    Entry{{"vFile:pread:", false}, parse_host_pread},
    Entry{{"vFile:pwrite:", false}, parse_host_pwrite},
    Entry{{"vFile:unlink:", false}, parse_host_unlink},
    Entry{{"vFile:close:", false}, parse_host_fd<HostClose>},
    Entry{{"vFile:fstat:", false}, parse_host_fd<HostFstat>},
    Entry{{"vFile:readlink:", false}, parse_host_readlink},
    Entry{{"vFile:", false}, declined<kNoHostOperation>},
    Entry{{"QNonStop:", false},
          [](std::string_view args) -> Result {
            if (args != "0" && args != "1") return fail("QNonStop: neither 0 nor 1");
            return SetNonStop{args == "1"};
          }},
    Entry{{"vStopped", true}, no_arguments<StoppedAck>},
    Entry{{"vCtrlC", true}, no_arguments<CtrlC>},
    Entry{{"QThreadSuffixSupported", true}, no_arguments<EnableThreadSuffix>},
    Entry{{"QListThreadsInStopReply", true}, no_arguments<EnableThreadsInStopReply>},
    Entry{{"qHostInfo", true}, no_arguments<QueryHostInfo>},
    Entry{{"qProcessInfo", true}, no_arguments<QueryProcessInfo>},
    Entry{{"qGetWorkingDir", true}, no_arguments<QueryWorkingDirectory>},
    Entry{{"jThreadsInfo", true}, no_arguments<QueryThreadsInfo>},
    Entry{{"qThreadStopInfo", false}, parse_thread_stop_info},
    Entry{{"qMemoryRegionInfo:", false}, parse_memory_region},
    Entry{{"qRegisterInfo", false}, parse_register_info},
    Entry{{"_M", false}, parse_allocate_memory},
    Entry{{"_m", false}, parse_deallocate_memory},
    Entry{{"jThreadExtendedInfo:", false}, declined<kNoExtendedInfo>},
    Entry{{"qStructuredDataPlugins", true}, declined<kNoPlugins>},
    Entry{{"qVAttachOrWaitSupported", true}, declined<kNoAttachWait>},
    Entry{{"QSetSTDIN:", false}, launch_setting<SetLaunchSetting::What::kStdin, true>},
    Entry{{"QSetSTDOUT:", false}, launch_setting<SetLaunchSetting::What::kStdout, true>},
    Entry{{"QSetSTDERR:", false}, launch_setting<SetLaunchSetting::What::kStderr, true>},
    Entry{{"QSetWorkingDir:", false},
          launch_setting<SetLaunchSetting::What::kWorkingDirectory, true>},
    Entry{{"QSetDisableASLR:", false}, launch_setting<SetLaunchSetting::What::kDisableAslr, false>},
    Entry{{"QDisableRandomization:", false},
          launch_setting<SetLaunchSetting::What::kDisableAslr, false>},
    Entry{{"QEnvironmentHexEncoded:", false},
          launch_setting<SetLaunchSetting::What::kEnvironmentSet, true>},
    Entry{{"QEnvironmentUnset:", false},
          launch_setting<SetLaunchSetting::What::kEnvironmentUnset, true>},
    Entry{{"QEnvironmentReset", true},
          launch_setting<SetLaunchSetting::What::kEnvironmentReset, false>},
    Entry{{"QEnvironment:", false}, launch_setting<SetLaunchSetting::What::kEnvironmentSet, false>},
    Entry{{"QLaunchArch:", false}, launch_setting<SetLaunchSetting::What::kLaunchArch, false>},
    Entry{{"qLaunchSuccess", true}, no_arguments<QueryLaunchSuccess>},
    Entry{{"vRun;", false}, parse_vrun},
    Entry{{"vAttach;", false}, parse_vattach},
    Entry{{"A", false}, parse_lldb_arguments},
    // Tracepoints, by name: a bare "QT" prefix would swallow lldb's QThreadSuffixSupported.
    Entry{{"qTfP", true}, no_arguments<QueryTracepointFirst>},
    Entry{{"qTsP", true}, no_arguments<QueryTracepointNext>},
    Entry{{"qTfV", true}, no_arguments<QueryTraceVariableFirst>},
    Entry{{"qTsV", true}, no_arguments<QueryTraceVariableNext>},
    Entry{{"qTP:", false}, trace_packet<parse_tracepoint_hits>},
    Entry{{"qTV:", false},
          [](std::string_view args) -> Result {
            const auto number = parse_hex_number(args);
            if (!number || *number > UINT32_MAX) return fail("qTV: bad variable number");
            return QueryTraceVariable{static_cast<std::uint32_t>(*number)};
          }},
    Entry{{"qTBuffer:", false}, declined<kNoTraceFile>},
    Entry{{"QTDP:-", false}, trace_packet<parse_trace_actions>},
    Entry{{"QTDP:", false}, trace_packet<parse_trace_define>},
    Entry{{"QTDPsrc:", false}, trace_packet<parse_trace_source>},
    Entry{{"QTDV:", false}, trace_packet<parse_trace_variable>},
    Entry{{"QTinit", true}, no_arguments<TraceInit>},
    Entry{{"QTStart", true}, no_arguments<TraceStart>},
    Entry{{"QTStop", true}, no_arguments<TraceStop>},
    Entry{{"QTFrame:", false}, trace_packet<parse_trace_frame>},
    Entry{{"QTro:", false}, trace_packet<parse_trace_read_only>},
    Entry{{"QTBuffer:", false}, trace_packet<parse_trace_buffer>},
    Entry{{"QTNotes:", false}, trace_packet<parse_trace_notes>},
    Entry{{"QTDisconnected:", false},
          [](std::string_view args) -> Result {
            if (args != "0" && args != "1") return fail("QTDisconnected: neither 0 nor 1");
            return TraceDisconnected{args == "1"};
          }},
    Entry{{"QTEnable:", false},
          [](std::string_view args) { return trace_packet_with(parse_trace_enable(args, true)); }},
    Entry{{"QTDisable:", false},
          [](std::string_view args) { return trace_packet_with(parse_trace_enable(args, false)); }},
    Entry{{"QTSave:", false}, declined<kNoTraceFile>},
    Entry{{"qCRC:", false}, declined<kNoCrc>},
    Entry{{"qThreadExtraInfo,", false}, declined<kNoExtraInfo>},
    // One-letter families last, so that longer names are matched first.
    Entry{{"G", false}, parse_write_registers},
    Entry{{"p", false}, parse_read_register},
    Entry{{"P", false}, parse_write_register},
    Entry{{"m", false}, parse_read_memory},
    Entry{{"M", false}, parse_write_memory_hex},
    Entry{{"X", false}, parse_write_memory_binary},
    Entry{{"Z", false}, parse_insert_breakpoint},
    Entry{{"z", false}, parse_remove_breakpoint},
    Entry{{"H", false}, parse_set_thread},
    Entry{{"T", false}, parse_thread_alive},
    Entry{{"c", false}, legacy_resume<'c'>},
    Entry{{"C", false}, legacy_resume<'C'>},
    Entry{{"s", false}, legacy_resume<'s'>},
    Entry{{"S", false}, legacy_resume<'S'>},
    Entry{{"x", false}, parse_read_memory_binary},
};

constexpr auto kPatterns = [] {
  std::array<PacketPattern, kTable.size()> patterns{};
  for (std::size_t i = 0; i < kTable.size(); ++i) patterns[i] = kTable[i].pattern;
  return patterns;
}();

}  // namespace

std::optional<ThreadId> parse_thread_id(std::string_view text) {
  ThreadId id;
  if (!text.empty() && text.front() == 'p') {
    text.remove_prefix(1);
    const auto dot = text.find('.');
    const auto pid = parse_id_value(text.substr(0, dot));
    if (!pid) return std::nullopt;
    id.pid = *pid;
    if (dot == std::string_view::npos) {
      id.tid = ThreadId::kAll;  // "pPID" names every thread of that process
      return id;
    }
    text.remove_prefix(dot + 1);
  }
  const auto tid = parse_id_value(text);
  if (!tid) return std::nullopt;
  id.tid = *tid;
  return id;
}

std::string format_thread_id(std::int64_t pid, std::int64_t tid, bool multiprocess) {
  const auto part = [](std::int64_t value) {
    return value < 0 ? std::string("-1") : hex_number(static_cast<std::uint64_t>(value));
  };
  if (!multiprocess) return part(tid);
  return "p" + part(pid) + "." + part(tid);
}

std::expected<Command, ParseError> parse_command(std::string_view payload) {
  for (const auto& entry : kTable) {
    const auto& name = entry.pattern.name;
    if (entry.pattern.exact ? payload == name : payload.starts_with(name)) {
      return entry.parse(payload.substr(name.size()));
    }
  }
  return Unknown{};
}

std::span<const PacketPattern> packet_patterns() {
  return kPatterns;
}

std::optional<ThreadId> take_thread_suffix(std::string_view& payload) {
  constexpr std::string_view kKey = ";thread:";
  if (payload.empty() || payload.back() != ';') return std::nullopt;
  const auto at = payload.rfind(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  const auto id =
      parse_thread_id(payload.substr(at + kKey.size(), payload.size() - 1 - at - kKey.size()));
  if (!id) return std::nullopt;
  payload = payload.substr(0, at);
  return id;
}

}  // namespace gostub::protocol
