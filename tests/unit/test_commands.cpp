#include <doctest/doctest.h>

#include <random>

#include "protocol/commands.hpp"
#include "protocol_fakes.hpp"

using namespace gostub::protocol;

using gostub::testing::malformed;
using gostub::testing::parse_as;

TEST_CASE("no table entry is shadowed by an earlier prefix") {
  const auto patterns = packet_patterns();
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    for (std::size_t j = i + 1; j < patterns.size(); ++j) {
      const bool shadowed = patterns[i].exact ? patterns[i].name == patterns[j].name
                                              : patterns[j].name.starts_with(patterns[i].name);
      CHECK_MESSAGE(!shadowed, patterns[i].name, " shadows ", patterns[j].name);
    }
  }
}

TEST_CASE("thread ids: plain, multiprocess, any and all") {
  CHECK(parse_thread_id("1a") == ThreadId{std::nullopt, 0x1a});
  CHECK(parse_thread_id("0") == ThreadId{std::nullopt, ThreadId::kAny});
  CHECK(parse_thread_id("-1") == ThreadId{std::nullopt, ThreadId::kAll});
  CHECK(parse_thread_id("p10.11") == ThreadId{0x10, 0x11});
  CHECK(parse_thread_id("p10.-1") == ThreadId{0x10, ThreadId::kAll});
  CHECK(parse_thread_id("p-1.-1") == ThreadId{ThreadId::kAll, ThreadId::kAll});
  CHECK(parse_thread_id("p10") == ThreadId{0x10, ThreadId::kAll});
  CHECK_FALSE(parse_thread_id("").has_value());
  CHECK_FALSE(parse_thread_id("p").has_value());
  CHECK_FALSE(parse_thread_id("pzz.1").has_value());
  CHECK_FALSE(parse_thread_id("-2").has_value());
  CHECK_FALSE(parse_thread_id("100000000").has_value());
  CHECK(format_thread_id(0x10, 0x11, true) == "p10.11");
  CHECK(format_thread_id(0x10, 0x11, false) == "11");
}

TEST_CASE("qSupported lists the client's features") {
  const auto command =
      parse_as<QuerySupported>("qSupported:multiprocess+;swbreak+;xmlRegisters=i386");
  CHECK(command.features ==
        std::vector<std::string>{"multiprocess+", "swbreak+", "xmlRegisters=i386"});
  CHECK(parse_as<QuerySupported>("qSupported").features.empty());
  CHECK(malformed("qSupportedX"));
}

TEST_CASE("simple queries") {
  parse_as<QueryHaltReason>("?");
  parse_as<StartNoAckMode>("QStartNoAckMode");
  parse_as<QueryThreadListFirst>("qfThreadInfo");
  parse_as<QueryThreadListNext>("qsThreadInfo");
  parse_as<QueryCurrentThread>("qC");
  parse_as<QueryResumeActions>("vCont?");
  parse_as<QueryOffsets>("qOffsets");
  parse_as<QueryTraceStatus>("qTStatus");
  parse_as<EnableExtendedMode>("!");
  CHECK(parse_as<QueryAttached>("qAttached").pid == std::nullopt);
  CHECK(parse_as<QueryAttached>("qAttached:1f").pid == 0x1f);
  CHECK(malformed("qAttached:zz"));
  CHECK(parse_as<QuerySymbol>("qSymbol::").payload == ":");
}

TEST_CASE("registers: g, G, p, P") {
  parse_as<ReadRegisters>("g");
  CHECK(parse_as<WriteRegisters>("G0011").bytes == std::string("\x00\x11", 2));
  CHECK(malformed("G001"));
  CHECK(malformed("Gzz"));
  CHECK(parse_as<ReadRegister>("p10").regno == 16);
  CHECK(malformed("p"));
  CHECK(malformed("pxyz"));
  const auto write = parse_as<WriteRegister>("P10=c0034a0000000000");
  CHECK(write.regno == 16);
  CHECK(write.bytes.size() == 8);
  CHECK(malformed("P10"));
  CHECK(malformed("P10=zz"));
}

TEST_CASE("memory: m, M, X") {
  const auto read = parse_as<ReadMemory>("m4a03c0,40");
  CHECK(read.address == 0x4a03c0);
  CHECK(read.length == 0x40);
  CHECK(malformed("m4a03c0"));
  CHECK(malformed("m,4"));
  CHECK(malformed("mzz,4"));
  CHECK(parse_as<WriteMemory>("M1000,2:abcd").bytes == "\xab\xcd");
  CHECK(malformed("M1000,3:abcd"));  // length mismatch
  CHECK(malformed("M1000,2"));
  const auto binary = parse_as<WriteMemory>("X1000,3:a}]b");
  CHECK(binary.bytes == "a}b");
  CHECK(parse_as<WriteMemory>("X1000,0:").bytes.empty());  // gdb's probe for X support
  CHECK(malformed("X1000,2:a}"));
  CHECK(malformed("X1000,5:abc"));
}

TEST_CASE("breakpoints: Z and z, with and without conditions") {
  const auto insert = parse_as<InsertBreakpoint>("Z0,4a03c0,1");
  CHECK(insert.type == BreakpointType::kSoftware);
  CHECK(insert.address == 0x4a03c0);
  CHECK(insert.kind == 1);
  CHECK(insert.conditions.empty());
  CHECK(parse_as<InsertBreakpoint>("Z0,4a03c0,1;X3,220127").conditions.size() == 1);
  CHECK(parse_as<InsertBreakpoint>("Z0,4a03c0,1;X3,220127;X3,220027").conditions.size() == 2);
  CHECK(malformed("Z0,4a03c0,1;X3,220101"));  // 0x01 (float) is not offered
  CHECK(malformed("Z0,4a03c0,1;X4,220127"));  // length and bytes disagree
  CHECK(malformed("Z0,4a03c0,1;X2,2201"));    // no end
  CHECK(parse_as<InsertBreakpoint>("Z2,1000,8").type == BreakpointType::kWriteWatch);
  const auto hardware = parse_as<InsertBreakpoint>("Z1,4a03c0,1");
  CHECK(hardware.type == BreakpointType::kHardware);
  CHECK(hardware.address == 0x4a03c0);
  const auto read = parse_as<InsertBreakpoint>("Z3,c000012345,4");
  CHECK(read.type == BreakpointType::kReadWatch);
  CHECK(read.kind == 4);
  CHECK(parse_as<InsertBreakpoint>("Z4,c000012340,8").type == BreakpointType::kAccessWatch);
  CHECK(parse_as<RemoveBreakpoint>("z4,c000012340,8").type == BreakpointType::kAccessWatch);
  CHECK(parse_as<RemoveBreakpoint>("z1,4a03c0,1").type == BreakpointType::kHardware);
  CHECK(malformed("Z5,1000,8"));
  CHECK(parse_as<RemoveBreakpoint>("z0,4a03c0,1").address == 0x4a03c0);
  CHECK(malformed("Z9,1000,1"));
  CHECK(malformed("Z0,1000"));
  CHECK(malformed("Z01,1000,1"));
  CHECK(malformed("z0,1000,1;X1,00"));
}

TEST_CASE("vCont and the legacy resume packets") {
  const auto resume = parse_as<Resume>("vCont;s:p10.11;c");
  REQUIRE(resume.actions.size() == 2);
  CHECK(resume.actions[0].kind == ResumeKind::kStep);
  CHECK(resume.actions[0].thread == ThreadId{0x10, 0x11});
  CHECK(resume.actions[1].kind == ResumeKind::kContinue);
  CHECK_FALSE(resume.actions[1].thread.has_value());

  const auto with_signal = parse_as<Resume>("vCont;C10:p1.2;c:p1.-1");
  CHECK(with_signal.actions[0].signal == 0x10);
  CHECK(with_signal.actions[1].thread == ThreadId{1, ThreadId::kAll});
  CHECK(parse_as<Resume>("vCont;t:5").actions[0].kind == ResumeKind::kStop);
  CHECK(malformed("vCont;"));
  CHECK(malformed("vCont;x"));
  const auto ranged = parse_as<Resume>("vCont;r4a0010,4a0042:p1.2;c");
  CHECK(ranged.actions[0].kind == ResumeKind::kStep);
  CHECK(ranged.actions[0].range_start == 0x4a0010);
  CHECK(ranged.actions[0].range_end == 0x4a0042);
  CHECK(ranged.actions[0].thread == ThreadId{1, 2});
  CHECK(malformed("vCont;r1000"));
  CHECK(malformed("vCont;r1000,"));
  CHECK(malformed("vCont;rxyz,2000"));
  CHECK(malformed("vCont;C"));
  CHECK(malformed("vCont;c:"));
  CHECK(malformed("vCont;c1"));

  CHECK(parse_as<Resume>("c").legacy);
  CHECK(parse_as<Resume>("S05").actions[0].signal == 5);
  CHECK(parse_as<Resume>("s").actions[0].kind == ResumeKind::kStep);
  CHECK(malformed("c1000"));  // resuming at an address is refused, not ignored
  CHECK(malformed("Cxx"));
}

TEST_CASE("threads: H, T") {
  const auto select = parse_as<SetThread>("Hgp10.11");
  CHECK(select.operation == 'g');
  CHECK(select.thread == ThreadId{0x10, 0x11});
  CHECK(parse_as<SetThread>("Hc-1").thread.tid == ThreadId::kAll);
  CHECK(parse_as<SetThread>("Hg0").thread.tid == ThreadId::kAny);
  CHECK(malformed("Hx1"));
  CHECK(malformed("Hg"));
  CHECK(parse_as<QueryThreadAlive>("Tp1.2").thread == ThreadId{1, 2});
  CHECK(malformed("Tzz"));
  const auto tls = parse_as<QueryTlsAddress>("qGetTLSAddr:p3e.3f,10,7ffff7ffe2e0");
  CHECK(tls.thread == ThreadId{0x3e, 0x3f});
  CHECK(tls.offset == 0x10);
  CHECK(tls.link_map == 0x7ffff7ffe2e0);
  CHECK(malformed("qGetTLSAddr:p3e.3f,10"));
  CHECK(malformed("qGetTLSAddr:p3e.3f,zz,1"));
}

TEST_CASE("qXfer reads and writes") {
  const auto read = parse_as<TransferRead>("qXfer:features:read:target.xml:0,ffb");
  CHECK(read.object == "features");
  CHECK(read.annex == "target.xml");
  CHECK(read.offset == 0);
  CHECK(read.length == 0xffb);
  CHECK(parse_as<TransferRead>("qXfer:threads:read::100,200").annex.empty());
  const auto write = parse_as<TransferWrite>("qXfer:siginfo:write::10:a:}\x03");
  CHECK(write.object == "siginfo");
  CHECK(write.annex.empty());
  CHECK(write.offset == 0x10);
  CHECK(write.data == "a:#");  // escaped binary; a ':' in the data is data
  CHECK(parse_as<TransferWrite>("qXfer:siginfo:write::0:").data.empty());
  CHECK(malformed("qXfer:siginfo:write::zz:ab"));
  CHECK(malformed("qXfer:siginfo:write:ab"));
  CHECK(malformed("qXfer:siginfo:frob::0,10"));
  CHECK(malformed("qXfer:features"));
  CHECK(malformed("qXfer:features:read:target.xml"));
  CHECK(malformed("qXfer:features:read:target.xml:0"));
}

TEST_CASE("kill, detach, monitor and signals") {
  CHECK_FALSE(parse_as<Kill>("k").pid.has_value());
  CHECK_FALSE(parse_as<Kill>("k").answered);
  CHECK(parse_as<Kill>("vKill;1f").pid == 0x1f);
  CHECK(parse_as<Kill>("vKill;1f").answered);
  CHECK_FALSE(parse_as<Kill>("vKill;").pid.has_value());  // gdbserver: E01 or the current one
  CHECK(parse_as<Kill>("vKill;").answered);
  CHECK(malformed("vKill;zz"));
  CHECK_FALSE(parse_as<Detach>("D").pid.has_value());
  CHECK(parse_as<Detach>("D;1f").pid == 0x1f);
  CHECK(parse_as<MonitorCommand>("qRcmd,68656c70").text == "help");
  CHECK(malformed("qRcmd,6"));
  CHECK(parse_as<PassSignals>("QPassSignals:e;10;14").signals == std::vector<int>{14, 16, 20});
  CHECK(parse_as<PassSignals>("QPassSignals:").signals.empty());
  CHECK(malformed("QPassSignals:1ff"));
  CHECK(parse_as<ProgramSignals>("QProgramSignals:2").signals == std::vector<int>{2});
  CHECK_FALSE(parse_as<CatchSyscalls>("QCatchSyscalls:0").enable);
  CHECK(parse_as<CatchSyscalls>("QCatchSyscalls:1").enable);
  CHECK(parse_as<CatchSyscalls>("QCatchSyscalls:1").numbers.empty());
  CHECK(parse_as<CatchSyscalls>("QCatchSyscalls:1;6e;1").numbers ==
        std::vector<std::uint64_t>{0x6e, 1});
  CHECK(malformed("QCatchSyscalls:"));
  CHECK(malformed("QCatchSyscalls:2"));
  CHECK(malformed("QCatchSyscalls:1;"));
  CHECK(malformed("QCatchSyscalls:1;zz"));
  CHECK(malformed("QCatchSyscalls:16e"));
  CHECK(malformed("QCatchSyscalls:1;10000"));
}

TEST_CASE("host I/O") {
  CHECK(parse_as<HostSetFs>("vFile:setfs:0").pid == 0);
  const auto open = parse_as<HostOpen>("vFile:open:2f746d70,0,1c0");
  CHECK(open.path == "/tmp");
  CHECK(open.flags == 0);
  CHECK(open.mode == 0x1c0);
  const auto pread = parse_as<HostPread>("vFile:pread:5,4000,100");
  CHECK(pread.fd == 5);
  CHECK(pread.count == 0x4000);
  CHECK(pread.offset == 0x100);
  CHECK(parse_as<HostClose>("vFile:close:5").fd == 5);
  CHECK(parse_as<HostFstat>("vFile:fstat:5").fd == 5);
  CHECK(parse_as<HostReadlink>("vFile:readlink:2f").path == "/");
  CHECK(parse_as<HostUnlink>("vFile:unlink:2f746d70").path == "/tmp");
  // Binary data may hold the separator and escaped bytes: "a,}]b" is a , # b.
  const auto pwrite = parse_as<HostPwrite>(
      "vFile:pwrite:5,10,a,}\x03"
      "b");
  CHECK(pwrite.fd == 5);
  CHECK(pwrite.offset == 0x10);
  CHECK(pwrite.data == "a,#b");
  CHECK(parse_as<HostPwrite>("vFile:pwrite:5,0,").data.empty());
  parse_as<Declined>("vFile:MD5:2f746d70");
  CHECK(malformed("vFile:pwrite:5"));
  CHECK(malformed("vFile:pwrite:x,0,ab"));
  CHECK(malformed("vFile:pwrite:5,0,ab}"));
  CHECK(malformed("vFile:unlink:2f7"));
  CHECK(malformed("vFile:open:2f746d70,0"));
  CHECK(malformed("vFile:pread:5,4000"));
  CHECK(malformed("vFile:close:x"));
}

TEST_CASE("lldb's watchpoint count query, in both spellings") {
  parse_as<QueryWatchpointSupport>("qWatchpointSupportInfo:");
  parse_as<QueryWatchpointSupport>("qWatchpointSupportInfo");
}

TEST_CASE("lldb's packets") {
  parse_as<EnableThreadSuffix>("QThreadSuffixSupported");
  parse_as<EnableThreadsInStopReply>("QListThreadsInStopReply");
  parse_as<QueryHostInfo>("qHostInfo");
  parse_as<QueryProcessInfo>("qProcessInfo");
  parse_as<QueryWorkingDirectory>("qGetWorkingDir");
  parse_as<QueryThreadsInfo>("jThreadsInfo");
  CHECK(parse_as<QueryThreadStopInfo>("qThreadStopInfo6c1").tid == 0x6c1);
  CHECK(malformed("qThreadStopInfo"));
  CHECK(parse_as<QueryMemoryRegion>("qMemoryRegionInfo:7ffff7ffd000").address == 0x7ffff7ffd000);
  CHECK(malformed("qMemoryRegionInfo:zz"));
  const auto binary = parse_as<ReadMemoryBinary>("x4a03c0,200");
  CHECK(binary.address == 0x4a03c0);
  CHECK(binary.length == 0x200);
  CHECK(parse_as<ReadMemoryBinary>("x0,0").length == 0);
  CHECK(malformed("x4a03c0"));
  parse_as<Declined>("qVAttachOrWaitSupported");
  parse_as<TraceInit>("QTinit");
  CHECK(parse_as<QueryRegisterInfo>("qRegisterInfo0").regno == 0);
  CHECK(parse_as<QueryRegisterInfo>("qRegisterInfo3a").regno == 0x3a);
  CHECK(malformed("qRegisterInfo"));
  CHECK(malformed("qRegisterInfox"));
}

TEST_CASE("lldb's memory allocation in the program: _M and _m") {
  const auto allocate = parse_as<AllocateMemory>("_M100,rwx");  // Delve's, for its code
  CHECK(allocate.size == 0x100);
  CHECK(allocate.readable);
  CHECK(allocate.writable);
  CHECK(allocate.executable);
  const auto read_only = parse_as<AllocateMemory>("_M2000,r");
  CHECK(read_only.readable);
  CHECK_FALSE(read_only.writable);
  CHECK_FALSE(read_only.executable);
  CHECK(malformed("_M100"));
  CHECK(malformed("_M0,rw"));
  CHECK(malformed("_M100,rwz"));
  CHECK(parse_as<DeallocateMemory>("_m7ffff7ff6000").address == 0x7ffff7ff6000);
  CHECK(malformed("_m"));
}

TEST_CASE("launching and attaching from the client") {
  // gdb: vRun;PROGRAM;ARG… in hex; an empty PROGRAM means the server's own.
  const auto run = parse_as<Run>("vRun;2f62696e2f6c73;2d6c;61200b");
  CHECK(run.argv == std::vector<std::string>{"/bin/ls", "-l", "a \x0b"});
  CHECK_FALSE(run.lldb_style);
  CHECK(parse_as<Run>("vRun;").argv == std::vector<std::string>{""});
  CHECK(malformed("vRun;zz"));
  // lldb: A LEN,NUM,ARG,… where LEN counts hex digits.
  const auto launch = parse_as<Run>("A8,0,2f62696e,4,1,2d6c");
  CHECK(launch.argv == std::vector<std::string>{"/bin", "-l"});
  CHECK(launch.lldb_style);
  CHECK(malformed("A8,1,2f62696e"));  // argument numbers count from 0
  CHECK(malformed("A9,0,2f62696e"));  // longer than what follows
  CHECK(malformed("A"));
  CHECK(parse_as<Attach>("vAttach;4d2").pid == 1234);
  CHECK(malformed("vAttach;0"));
  CHECK(malformed("vAttach;xyz"));
  using What = SetLaunchSetting::What;
  CHECK(parse_as<SetLaunchSetting>("QSetSTDOUT:2f746d70").value == "/tmp");
  CHECK(parse_as<SetLaunchSetting>("QSetWorkingDir:2f746d70").what == What::kWorkingDirectory);
  CHECK(parse_as<SetLaunchSetting>("QEnvironment:A=b c").value == "A=b c");
  CHECK(parse_as<SetLaunchSetting>("QEnvironmentHexEncoded:413d62").value == "A=b");
  CHECK(parse_as<SetLaunchSetting>("QEnvironmentUnset:41").what == What::kEnvironmentUnset);
  CHECK(parse_as<SetLaunchSetting>("QEnvironmentReset").what == What::kEnvironmentReset);
  CHECK(parse_as<SetLaunchSetting>("QDisableRandomization:1").what == What::kDisableAslr);
  CHECK(malformed("QSetSTDIN:zz"));
  parse_as<QueryLaunchSuccess>("qLaunchSuccess");
}

TEST_CASE("the names gdb and lldb use reach their own entries") {
  // A prefix too broad once sent QThreadSuffixSupported to the tracepoint entry.
  CHECK(std::holds_alternative<EnableThreadSuffix>(*parse_command("QThreadSuffixSupported")));
  CHECK(std::get<ThreadEvents>(*parse_command("QThreadEvents:1")).enable);
  CHECK_FALSE(std::get<ThreadEvents>(*parse_command("QThreadEvents:0")).enable);
  CHECK_FALSE(parse_command("QThreadEvents:2").has_value());
  CHECK(std::holds_alternative<QueryCurrentThread>(*parse_command("qC")));
  CHECK(std::holds_alternative<Declined>(*parse_command("qCRC:1000,10")));
  CHECK(std::holds_alternative<QueryTraceStatus>(*parse_command("qTStatus")));
}

TEST_CASE("lldb's thread suffix") {
  std::string_view payload = "p10;thread:6c1;";
  CHECK(take_thread_suffix(payload) == ThreadId{std::nullopt, 0x6c1});
  CHECK(payload == "p10");
  payload = "gthread:6c1;";  // no ';' before the key: not a suffix
  CHECK_FALSE(take_thread_suffix(payload).has_value());
  payload = "p10;thread:zz;";
  CHECK_FALSE(take_thread_suffix(payload).has_value());
  CHECK(payload == "p10;thread:zz;");
  payload = "g";
  CHECK_FALSE(take_thread_suffix(payload).has_value());
}

TEST_CASE("unknown packets are Unknown, not errors") {
  parse_as<Unknown>("vMustReplyEmpty");
  parse_as<Unknown>("qWhatever");
  parse_as<Unknown>("");
  parse_as<Declined>("qTBuffer:0,10");
}

TEST_CASE("non-stop: QNonStop, vStopped, vCtrlC, vCont;t") {
  CHECK(parse_as<SetNonStop>("QNonStop:1").enable);
  CHECK_FALSE(parse_as<SetNonStop>("QNonStop:0").enable);
  CHECK_FALSE(parse_command("QNonStop:2").has_value());
  CHECK_FALSE(parse_command("QNonStop:").has_value());
  parse_as<StoppedAck>("vStopped");
  parse_as<CtrlC>("vCtrlC");
  parse_as<Unknown>("vStoppedX");  // exact: nothing after it
  parse_as<Unknown>("vCtrlC;1");
  const auto stop = parse_as<Resume>("vCont;t:p64.65;c");
  REQUIRE(stop.actions.size() == 2);
  CHECK(stop.actions[0].kind == ResumeKind::kStop);
  CHECK(stop.actions[0].thread == ThreadId{0x64, 0x65});
  CHECK(stop.actions[1].kind == ResumeKind::kContinue);
  CHECK_FALSE(stop.actions[1].thread.has_value());
  CHECK(parse_as<Resume>("vCont;t").actions.front().kind == ResumeKind::kStop);
}

TEST_CASE("random payloads never crash the parser") {
  std::mt19937 random(99);
  const std::string_view alphabet = "0123456789abcdefpPmMXZzgGHTcCsSqQv;:,.-=}?";
  const auto patterns = packet_patterns();
  for (int round = 0; round < 20000; ++round) {
    std::string payload(patterns[random() % patterns.size()].name);
    const auto extra = random() % 24;
    for (std::size_t i = 0; i < extra; ++i) payload.push_back(alphabet[random() % alphabet.size()]);
    const auto command = parse_command(payload);
    CHECK((command.has_value() || !command.error().message.empty()));
  }
}
