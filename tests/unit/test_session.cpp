// The session layer without ptrace: packets in, replies out, against a test double of the
// program model. The end-to-end tests with real gdb and lldb remain the authority on what
// the clients accept; these pin the dialects, the error mapping and every kind of reply.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "protocol/hex.hpp"
#include "server/gdb_session.hpp"
#include "target/registers.hpp"

namespace {

using namespace gostub;
using server::ClientThread;
using server::Failure;
using server::StopReport;
using target::StopEvent;

// A stopped program of two threads (100, the leader, and 101), 256 readable bytes at 0x1000.
class FakeProgram final : public server::Program {
 public:
  explicit FakeProgram(pid_t pid = 100, bool attached = false) : pid_(pid), attached_(attached) {
    last_stop_ = StopEvent{StopEvent::Kind::kSignal, pid_, attached ? SIGSTOP : SIGTRAP, 0};
    for (int i = 0; i < 256; ++i) memory_.push_back(static_cast<char>(i));
  }

  pid_t pid() const override { return pid_; }
  bool alive() const override { return alive_; }
  bool attached() const override { return attached_; }
  bool running() const override { return running_; }
  const std::string& executable() const override { return executable_; }
  const std::optional<StopEvent>& last_stop() const override { return last_stop_; }
  bool resumed_yet() const override { return resumed_yet_; }
  void collect_other_stops() override {}
  const std::map<pid_t, StopEvent>& other_stops() const override { return other_stops_; }

  std::vector<ClientThread> threads() override {
    if (!alive_) return {};
    return {ClientThread::os_thread(pid_), ClientThread::os_thread(pid_ + 1),
            ClientThread::goroutine(7)};
  }
  bool has_thread(ClientThread thread) override {
    for (const auto known : threads()) {
      if (known == thread) return true;
    }
    return false;
  }
  std::string thread_name(ClientThread thread) override {
    return thread.is_goroutine() ? "goroutine 7 main.worker [chan receive]" : "fake<&>";
  }
  int thread_core(ClientThread) override { return 1; }
  target::Result<std::string> registers(ClientThread thread) override {
    std::string file(target::register_file_size(), '\0');
    const std::uint64_t rip = thread.is_goroutine() ? 0x7777 : 0x401000 + thread.tid();
    std::memcpy(file.data() + target::x86_64_registers()[target::regno::kRip].offset, &rip, 8);
    return file;
  }
  target::Result<std::string> general_registers(ClientThread thread) override {
    return registers(thread);
  }
  target::Result<std::uint64_t> pc(ClientThread thread) override {
    return target::register_value(*registers(thread), target::regno::kRip);
  }
  server::GoIdentity goroutine_identity(ClientThread thread) override {
    if (thread.is_goroutine()) return {thread.goroutine_id(), 0xc000007000};
    return thread.tid() == pid_ ? server::GoIdentity{1, 0xc000001000} : server::GoIdentity{};
  }
  server::Outcome<void> write_registers(ClientThread thread, std::string_view) override {
    if (auto refused = refuse_resume(thread)) return std::unexpected(*refused);
    ++register_writes_;
    return {};
  }
  std::optional<Failure> refuse_resume(ClientThread thread) override {
    if (!thread.is_goroutine()) return std::nullopt;
    return Failure::told(EPERM, "thread is a parked goroutine");
  }

  target::Result<std::size_t> read_memory(std::uint64_t address,
                                          std::span<char> out) const override {
    if (address < 0x1000 || address >= 0x1000 + memory_.size()) {
      return target::fail(EIO, "cannot read memory");
    }
    const auto count = std::min<std::size_t>(out.size(), 0x1000 + memory_.size() - address);
    std::memcpy(out.data(), memory_.data() + (address - 0x1000), count);
    return count;
  }
  target::Result<void> write_memory(std::uint64_t, std::string_view) override {
    return target::fail(EFAULT, "read-only fake");
  }
  target::Result<std::vector<target::MemoryRegion>> memory_regions() const override {
    return std::vector<target::MemoryRegion>{{0x1000, 0x1100, true, false, false, "[heap]"}};
  }
  target::Result<std::uint64_t> allocate_memory(std::uint64_t size, bool readable, bool writable,
                                                bool executable) override {
    if (!readable || !writable || !executable) return target::fail(EINVAL, "rwx only");
    allocated_[0x7000'0000 + allocated_.size() * 0x1000] = size;
    return 0x7000'0000 + (allocated_.size() - 1) * 0x1000;
  }
  target::Result<void> deallocate_memory(std::uint64_t address) override {
    if (allocated_.erase(address) == 0) return target::fail(EINVAL, "not allocated");
    return {};
  }
  target::Result<std::string> auxv() const override { return std::string(32, '\1'); }
  target::Result<target::ProcessFacts> facts() const override {
    return target::ProcessFacts{1, 0, 0, 0, 0, "/srv"};
  }

  target::Result<void> insert_breakpoint(std::uint64_t address, server::BreakpointAgent) override {
    breakpoints_.insert(address);
    return {};
  }
  target::Result<void> remove_breakpoint(std::uint64_t address) override {
    if (breakpoints_.erase(address) == 0) return target::fail(ENOENT, "no breakpoint there");
    return {};
  }
  target::Result<void> insert_hardware_point(target::HardwareKind kind, std::uint64_t address,
                                             std::uint64_t length) override {
    if (hardware_.size() == 4) return target::fail(ENOSPC, "no free debug register");
    hardware_.push_back({kind, address, length});
    return {};
  }
  target::Result<void> remove_hardware_point(target::HardwareKind kind, std::uint64_t address,
                                             std::uint64_t length) override {
    const auto found =
        std::find(hardware_.begin(), hardware_.end(), HardwarePoint{kind, address, length});
    if (found == hardware_.end()) return target::fail(ENOENT, "no hardware point there");
    hardware_.erase(found);
    return {};
  }
  target::Result<std::string> siginfo(ClientThread thread) override {
    if (thread.is_goroutine()) return target::fail(ESRCH, "no signal");
    return siginfo_;
  }
  target::Result<void> write_siginfo(ClientThread, std::string_view bytes) override {
    siginfo_ = std::string(bytes);
    return {};
  }
  void set_signals(const server::SignalSettings& signals) override { signals_ = signals; }
  target::Result<std::optional<StopReport>> resume(
      std::span<const target::ThreadAction> plan) override {
    plan_.assign(plan.begin(), plan.end());
    resumed_yet_ = true;
    running_ = true;
    for (const auto& action : plan) running_threads_.insert(action.tid);
    return std::nullopt;
  }
  void set_non_stop(bool on) override { non_stop_ = on; }
  bool non_stop() const override { return non_stop_; }
  bool thread_running(ClientThread thread) const override {
    return non_stop_ ? !thread.is_goroutine() && running_threads_.contains(thread.tid()) : running_;
  }
  void request_stop(std::span<const pid_t> tids) override {
    stop_requests_.insert(stop_requests_.end(), tids.begin(), tids.end());
  }
  bool is_go() override { return go_program_; }
  gostub::target::Result<void> signal_interrupt() override {
    ++interrupt_signals_;
    return {};
  }
  std::optional<StopReport> handle_wait_events() override { return std::nullopt; }
  std::optional<StopReport> interrupt() override {
    if (!running_) return std::nullopt;
    return stop(StopEvent{StopEvent::Kind::kInterrupt, pid_ + 1, 0, 0});
  }
  StopEvent kill() override {
    alive_ = false;
    last_stop_ = StopEvent{StopEvent::Kind::kTerminated, pid_, SIGKILL, 0};
    return *last_stop_;
  }
  target::Result<void> detach() override {
    alive_ = false;
    return {};
  }
  server::GoState* go() override { return nullptr; }
  server::Trace& trace() override { return trace_; }
  target::Result<void> start_tracing() override {
    trace_.start();
    return update_tracing();
  }
  target::Result<void> update_tracing() override {
    if (!trace_.running()) return {};
    const auto addresses = trace_.addresses();
    tracepoint_breakpoints_ = std::set<std::uint64_t>(addresses.begin(), addresses.end());
    return {};
  }
  void stop_tracing(server::Trace::StopReason reason) override {
    trace_.stop(reason);
    tracepoint_breakpoints_.clear();
  }
  server::Trace trace_;
  std::set<std::uint64_t> tracepoint_breakpoints_;
  bool holds_fork_child(pid_t child) const override { return fork_children_.contains(child); }
  target::Result<void> remove_fork_child_breakpoint(pid_t child, std::uint64_t address) override {
    child_breakpoints_removed_.emplace_back(child, address);
    return {};
  }
  target::Result<void> detach_fork_child(pid_t child) override {
    fork_children_.erase(child);
    return {};
  }
  std::unique_ptr<server::Program> take_fork_child(pid_t child) override {
    if (fork_children_.erase(child) == 0) return nullptr;
    return std::make_unique<FakeProgram>(child);
  }

  std::set<pid_t> fork_children_;
  std::vector<std::pair<pid_t, std::uint64_t>> child_breakpoints_removed_;

  // What the event loop does when the program stops.
  StopReport stop(StopEvent event, std::string console = {}) {
    running_threads_.erase(event.tid);
    running_ = non_stop_ && !running_threads_.empty();
    last_stop_ = event;
    return StopReport{event, std::move(console)};
  }

  std::vector<target::ThreadAction> plan_;
  bool non_stop_ = false;
  std::set<pid_t> running_threads_;  // non-stop
  std::vector<pid_t> stop_requests_;
  int interrupt_signals_ = 0;  // vCtrlC's SIGINTs
  bool go_program_ = true;
  std::set<std::uint64_t> breakpoints_;
  struct HardwarePoint {
    target::HardwareKind kind;
    std::uint64_t address, length;
    bool operator==(const HardwarePoint&) const = default;
  };
  std::vector<HardwarePoint> hardware_;
  // SIGSEGV (11), SEGV_MAPERR (1), si_addr 0 at offset 16.
  std::string siginfo_ = std::string("\x0b\0\0\0\0\0\0\0\x01\0\0\0", 12) + std::string(116, '\0');
  std::map<std::uint64_t, std::uint64_t> allocated_;  // _M: address -> size
  server::SignalSettings signals_;
  int register_writes_ = 0;
  std::string executable_ = "/srv/fake";

 private:
  pid_t pid_;
  bool attached_;
  bool alive_ = true;
  bool running_ = false;
  bool resumed_yet_ = false;
  std::optional<StopEvent> last_stop_;
  std::map<pid_t, StopEvent> other_stops_;
  std::string memory_;
};

class FakeFactory final : public server::ProgramFactory {
 public:
  target::Result<std::unique_ptr<server::Program>> launch(
      const target::LaunchOptions& options) override {
    launched.push_back(options);
    if (options.argv.front() == "/missing") return target::fail(ENOENT, "/missing: not found");
    auto program = std::make_unique<FakeProgram>(200);
    program->executable_ = options.argv.front();
    return program;
  }
  target::Result<std::unique_ptr<server::Program>> attach(pid_t pid) override {
    if (pid == 1) return target::fail(EPERM, "Cannot attach to process 1: Operation not permitted");
    return std::make_unique<FakeProgram>(pid, true);
  }
  std::vector<target::LaunchOptions> launched;
};

class Recorder final : public server::PacketSink {
 public:
  void send_packet(std::string_view payload) override { packets.emplace_back(payload); }
  // Recorded as framed: "%" first.
  void send_notification(std::string_view payload) override {
    packets.push_back("%" + std::string(payload));
  }
  void set_no_ack_mode() override { no_ack = true; }
  void close_after_writes() override { closed = true; }
  std::vector<std::string> packets;
  bool no_ack = false;
  bool closed = false;
};

// A session over a FakeProgram (pid 100) or none; `exchange` sends one packet and returns
// every packet the session sent for it.
struct Transcript {
  explicit Transcript(bool with_program = true, server::SessionOptions session_options = {})
      : options(std::move(session_options)) {
    if (with_program) {
      auto owned = std::make_unique<FakeProgram>();
      program = owned.get();
      programs.add(std::move(owned));
    }
  }
  std::vector<std::string> exchange(std::string_view packet) {
    sink->packets.clear();
    session.on_packet(packet);
    return sink->packets;
  }
  std::string ask(std::string_view packet) {
    const auto replies = exchange(packet);
    REQUIRE_MESSAGE(replies.size() == 1, packet);
    return replies.front();
  }
  void become_lldb() { REQUIRE(ask("QThreadSuffixSupported") == "OK"); }

  FakeFactory factory;
  server::Programs programs{factory};
  FakeProgram* program = nullptr;
  std::shared_ptr<Recorder> sink = std::make_shared<Recorder>();
  server::GoSettings settings;
  bool exit_requested = false;
  server::SessionOptions options;
  server::GdbSession session{programs, sink,
                             server::GdbSession::Hooks{[this] { exit_requested = true; }}, settings,
                             options};
};

}  // namespace

TEST_CASE("qSupported is generated from the server's features and the client's offer") {
  Transcript t;
  const auto plain = t.ask("qSupported:xmlRegisters=i386");
  CHECK(plain.starts_with("PacketSize=40000;"));
  CHECK(plain.find("multiprocess+") == std::string::npos);  // only when the client has it
  CHECK(plain.find("qXfer:threads:read+") != std::string::npos);
  for (const auto& feature : server::server_features()) {
    if (!feature.when_client_has) CHECK(plain.find(feature.name) != std::string::npos);
  }
  const auto multi = t.ask("qSupported:multiprocess+;swbreak+");
  CHECK(multi.find(";multiprocess+") != std::string::npos);
  CHECK(t.ask("qC") == "QCp64.64");
}

TEST_CASE("gdb: stop replies, thread ids and signals in gdb's numbering") {
  Transcript t;
  t.ask("qSupported:multiprocess+;swbreak+");
  // The launch stop: SIGTRAP (5), with rbp, rsp, rip expedited.
  const auto first = t.ask("?");
  CHECK(first.starts_with("T05"));
  CHECK(first.find("thread:p64.64;") != std::string::npos);
  CHECK(first.find("10:6410400000000000;") != std::string::npos);  // rip 0x401064
  CHECK(t.ask("qfThreadInfo") == "mp64.64,p64.65,p64.3b9aca07");
  CHECK(t.ask("qsThreadInfo") == "l");
  // gdb's SIGUSR1 is 30, Linux's is 10.
  CHECK(t.ask("QPassSignals:1e") == "OK");
  CHECK(t.program->signals_.pass == std::set<int>{SIGUSR1});
}

TEST_CASE("every reply kind: packet, failure, sent, stop later, none") {
  Transcript t;
  t.ask("qSupported:multiprocess+;swbreak+");
  // Sent from the session's buffer: one packet, the hex of the bytes.
  CHECK(t.ask("m1004,4") == "04050607");
  // Failure: the target's errno as Exx.
  CHECK(t.ask("m2000,4") == "E05");
  CHECK(t.ask("Z0,1234,1") == "OK");
  CHECK(t.ask("z0,9999,1") == "E02");
  CHECK(t.ask("Z3,1234,4").empty());  // gdb's read watchpoints: not offered, the empty reply
  // Stop later: nothing until the program stops, then the stop reply.
  CHECK(t.exchange("vCont;c").empty());
  REQUIRE(t.program->plan_.size() == 2);  // the OS threads only, never a goroutine thread
  CHECK(t.ask("g") == "E10");             // EBUSY: running
  t.sink->packets.clear();
  t.session.on_interrupt();
  REQUIRE(t.sink->packets.size() == 1);
  CHECK(t.sink->packets.back().starts_with("T02"));  // SIGINT
  CHECK(t.sink->packets.back().find("thread:p64.65;") != std::string::npos);
  // A stop with something to say: console output first, then the stop.
  t.exchange("vCont;c");
  t.sink->packets.clear();
  t.session.on_stop(
      t.program->stop(StopEvent{StopEvent::Kind::kBreakpoint, 101, SIGTRAP, 0}, "panicked\n"));
  REQUIRE(t.sink->packets.size() == 2);
  CHECK(t.sink->packets[0] == "O" + protocol::to_hex("panicked\n"));
  CHECK(t.sink->packets[1].starts_with("T05"));
  CHECK(t.sink->packets[1].find("swbreak:;") != std::string::npos);
  // None: gdb's "k" has no reply.
  CHECK(t.exchange("k").empty());
  CHECK(!t.program->alive());
}

TEST_CASE("fork, vfork, exec and system call stops, as gdb asked for them") {
  Transcript t;
  const auto supported = t.ask("qSupported:multiprocess+;fork-events+;exec-events+");
  CHECK(supported.find("fork-events+") != std::string::npos);
  CHECK(supported.find("vfork-events+") == std::string::npos);  // not offered by the client
  CHECK(supported.find("QCatchSyscalls+") != std::string::npos);
  const auto stop = [&](StopEvent event) {
    t.exchange("vCont;c");
    t.sink->packets.clear();
    t.session.on_stop(t.program->stop(event));
    REQUIRE(t.sink->packets.size() == 1);
    return t.sink->packets[0];
  };
  StopEvent fork{StopEvent::Kind::kFork, 100, SIGTRAP, 0};
  fork.child = 0x1234;
  const auto forked = stop(fork);
  CHECK(forked.starts_with("T05"));
  CHECK(forked.find("fork:p1234.1234;") != std::string::npos);
  CHECK(forked.find("thread:p64.64;") != std::string::npos);
  CHECK(stop(StopEvent{StopEvent::Kind::kVforkDone, 100, SIGTRAP, 0}).find("vforkdone:;") !=
        std::string::npos);
  CHECK(stop(StopEvent{StopEvent::Kind::kExec, 100, SIGTRAP, 0}).find("exec:2f7372762f66616b65;") !=
        std::string::npos);  // /srv/fake
  StopEvent entry{StopEvent::Kind::kSyscallEntry, 100, SIGTRAP, 0};
  entry.syscall = 0x6e;
  CHECK(stop(entry).find("syscall_entry:6e;") != std::string::npos);
  entry.kind = StopEvent::Kind::kSyscallReturn;
  CHECK(stop(entry).find("syscall_return:6e;") != std::string::npos);
  // QCatchSyscalls reaches the program, and a program started later.
  CHECK(t.ask("QCatchSyscalls:1;6e;1") == "OK");
  CHECK(t.program->signals_.syscalls == std::set<long>{0x6e, 1});
  CHECK(t.ask("QCatchSyscalls:0") == "OK");
  CHECK_FALSE(t.program->signals_.syscalls.has_value());
  // A pid that is neither the program nor a fork child it holds.
  CHECK(t.ask("Hgp999.999") == "E03");
  CHECK(t.ask("D;999") == "E03");
}

TEST_CASE("a held fork child: Hg names it, z0 reaches it, D;PID lets it go") {
  Transcript t;
  t.ask("qSupported:multiprocess+;fork-events+");
  t.program->fork_children_ = {0x200};
  CHECK(t.ask("Hgp200.200") == "OK");
  CHECK(t.ask("z0,401000,1") == "OK");
  REQUIRE(t.program->child_breakpoints_removed_.size() == 1);
  CHECK(t.program->child_breakpoints_removed_[0] ==
        std::pair<pid_t, std::uint64_t>{0x200, 0x401000});
  CHECK(t.ask("Hgp64.64") == "OK");
  CHECK(t.ask("D;200") == "OK");
  CHECK(t.program->fork_children_.empty());
  CHECK(t.ask("D;200") == "E03");
  CHECK(t.program->alive());
}

TEST_CASE("exec without exec-events+ is the SIGTRAP it always was") {
  Transcript t;
  t.ask("qSupported:multiprocess+");
  t.exchange("vCont;c");
  t.sink->packets.clear();
  t.session.on_stop(t.program->stop(StopEvent{StopEvent::Kind::kExec, 100, SIGTRAP, 0}));
  REQUIRE(t.sink->packets.size() == 1);
  CHECK(t.sink->packets[0].starts_with("T05"));
  CHECK(t.sink->packets[0].find("exec:") == std::string::npos);
}

TEST_CASE("vKill; without a pid is answered, as by gdbserver 13") {
  Transcript multiprocess;
  multiprocess.ask("qSupported:multiprocess+");
  CHECK(multiprocess.ask("vKill;") == "E03");  // names no process
  CHECK(multiprocess.program->alive());
  Transcript single;
  CHECK(single.ask("vKill;") == "OK");  // the program there is
  CHECK(!single.program->alive());
  CHECK(Transcript(false).ask("vKill;") == "E03");
  // A plain "k" with no program is not answered (lldb sends one as it launches).
  CHECK(Transcript(false).exchange("k").empty());
  // Without multiprocess gdb names a placeholder pid (42000): the program there is meant.
  Transcript placeholder;
  CHECK(placeholder.ask("vKill;a410") == "OK");
  CHECK(!placeholder.program->alive());
}

TEST_CASE("errors are shaped for the dialect: E.text for gdb, Exx for lldb") {
  Transcript gdb;
  gdb.ask("qSupported:multiprocess+");
  // Malformed: EINVAL.
  CHECK(gdb.ask("mzz,4") == "E16");
  // A parked goroutine cannot be resumed: gdb reads the reason.
  CHECK(gdb.ask("vCont;s:p64.3b9aca07") == "E.thread is a parked goroutine");
  CHECK(gdb.ask("Hgp64.3b9aca07") == "OK");
  CHECK(gdb.ask("P10=0000000000000000") == "E.thread is a parked goroutine");
  CHECK(gdb.program->register_writes_ == 0);
  CHECK(gdb.ask("Hgp64.999") == "E03");  // no such thread
  // A failed attach: gdb prints the message.
  CHECK(gdb.ask("vAttach;1") == "E.Cannot attach to process 1: Operation not permitted");

  Transcript lldb;
  lldb.become_lldb();
  CHECK(lldb.ask("vAttach;1") == "E01");
  CHECK(lldb.ask("vCont;s:3b9aca07") == "E01");
  CHECK(lldb.ask("g;thread:3e7;") == "E03");  // unknown thread in the suffix
}

TEST_CASE("lldb: native signals, thread suffix, first stop as SIGSTOP, per-thread stop info") {
  Transcript t;
  t.become_lldb();
  CHECK(t.ask("QListThreadsInStopReply") == "OK");
  const auto first = t.ask("?");
  CHECK(first.starts_with("T13"));  // SIGSTOP (19) where gdb gets the exec SIGTRAP
  CHECK(first.find("threads:64,65,3b9aca07;") != std::string::npos);
  CHECK(first.find("thread-pcs:401064,401065,7777;") != std::string::npos);
  CHECK(first.find("hexname:" + protocol::to_hex("fake<&>") + ";") != std::string::npos);
  // Register reads name the thread in a suffix.
  const auto rip = t.ask("p10;thread:3b9aca07;");
  CHECK(rip == "7777000000000000");
  // Every thread's stop info rides along (jstopinfo), and every general register, with
  // two-digit keys (lldb reads no other).
  const auto stop_info = first.substr(first.find("jstopinfo:") + 10);
  const auto json = protocol::from_hex(stop_info.substr(0, stop_info.find(';')));
  REQUIRE(json);
  CHECK(json->starts_with(R"([{"tid":100,"name":"fake<&>","reason":"signal","signal":19},)"));
  CHECK(json->find(R"({"tid":101,"name":"fake<&>"})") != std::string::npos);
  CHECK(first.starts_with("T1300:"));
  CHECK(first.find(";17:") != std::string::npos);  // gs
  // A thread merely stopped along with the stopping one: no signal.
  CHECK(t.ask("qThreadStopInfo65").starts_with("T00"));
  CHECK(t.ask("qThreadStopInfo65").find("jstopinfo") == std::string::npos);
  CHECK(t.ask("qThreadStopInfo3b9aca07").find("thread:3b9aca07;") != std::string::npos);
  const auto threads = t.ask("jThreadsInfo");
  CHECK(threads.find(R"("tid":100,"name":"fake<&>","reason":"signal","signal":19)") !=
        std::string::npos);
  CHECK(threads.find(R"("tid":1000000007,"name":"goroutine 7 main.worker [chan receive]")") !=
        std::string::npos);
  // Signals are Linux's own: SIGUSR1 is 10 here.
  t.ask("QPassSignals:a");
  CHECK(t.program->signals_.pass == std::set<int>{SIGUSR1});
  // lldb waits for the exit after k.
  CHECK(t.ask("k") == "X09");
  CHECK(t.ask("x1000,0") == "OK");  // lldb's probe
}

TEST_CASE("Go's registers: goid and g after the machine's, read with p, never written") {
  Transcript t;
  t.ask("qSupported:multiprocess+");
  const auto goid = fmt::format("{:x}", target::x86_64_registers().size());
  const auto g = fmt::format("{:x}", target::x86_64_registers().size() + 1);
  CHECK(t.ask("Hgp64.64") == "OK");
  CHECK(t.ask("p" + goid) == "0100000000000000");
  CHECK(t.ask("p" + g) == "00100000c0000000");
  CHECK(t.ask("Hgp64.3b9aca07") == "OK");  // goroutine 7's thread
  CHECK(t.ask("p" + goid) == "0700000000000000");
  CHECK(t.ask("Hgp64.65") == "OK");  // a thread that runs no goroutine
  CHECK(t.ask("p" + goid) == "0000000000000000");
  CHECK(t.ask("P" + goid + "=0500000000000000").starts_with("E."));
  CHECK(t.ask("P" + goid + "=0000000000000000") == "OK");  // gdb restoring it after a call
  CHECK(t.ask("p" + fmt::format("{:x}", target::x86_64_registers().size() + 2)).starts_with("E"));
  const auto xml = t.ask("qXfer:features:read:target.xml:0,ffff");
  CHECK(
      xml.find(fmt::format(R"(<feature name="org.golang.go">)"
                           "\n"
                           R"(<reg name="goid" bitsize="64" type="int64" regnum="{}" group="go"/>)",
                           target::x86_64_registers().size())) != std::string::npos);
  // A program that is not Go: gdbserver's registers only (gcore writes each one gdb knows).
  t.program->go_program_ = false;
  const auto machine_only = t.ask("qXfer:features:read:target.xml:0,ffff");
  CHECK(machine_only.find("org.golang.go") == std::string::npos);
  CHECK(machine_only.find("</target>") != std::string::npos);
}

TEST_CASE("binary memory reads: gdb's b prefix, lldb's bare data, escaped") {
  Transcript gdb;
  gdb.ask("qSupported:binary-upload+");
  CHECK(gdb.ask("x1000,0") == "b");
  CHECK(gdb.ask("x107d,1") == "b}]");  // 0x7d is escaped as 0x7d 0x5d
  Transcript lldb;
  lldb.become_lldb();
  CHECK(lldb.ask("x1001,2") == std::string("\x01\x02", 2));
}

TEST_CASE("no program yet: gdb gets W00, lldb an error and an OK thread list") {
  Transcript gdb(false);
  CHECK(gdb.ask("?") == "W00");
  CHECK(gdb.ask("qfThreadInfo") == "l");
  CHECK(gdb.ask("g") == "E03");
  CHECK(gdb.ask("m1000,4") == "E03");
  CHECK(gdb.ask("vCont;c") == "E03");
  CHECK(gdb.ask("D") == "E03");
  // No architecture claimed, as gdbserver: gdb's `set architecture i386` must be allowed.
  CHECK(gdb.ask("qXfer:features:read:target.xml:0,fff") ==
        "l<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\"><target></target>");
  CHECK(gdb.ask("vRun;") == "E01");  // gdbserver: programs are run in extended mode only
  CHECK(gdb.ask("!") == "OK");
  CHECK(gdb.ask("vRun;") == "E.no program: give one to gostub or `set remote exec-file` in gdb");
  Transcript lldb(false);
  lldb.become_lldb();
  CHECK(lldb.ask("vRun;") == "E02");  // lldb 19 sends vRun without `!`, as lldb-server takes it
  CHECK(lldb.ask("?") == "E03");
  CHECK(lldb.ask("qfThreadInfo") == "OK");
  CHECK(lldb.ask("qProcessInfo") == "E03");
}

TEST_CASE("run and attach make a new program; the client's settings come along") {
  Transcript t;
  t.ask("qSupported:multiprocess+");
  CHECK(t.ask("vRun;" + protocol::to_hex("/bin/prog")) == "E01");  // not in extended mode yet
  t.ask("!");
  t.ask("QPassSignals:1e");
  CHECK(t.ask("QEnvironmentHexEncoded:" + protocol::to_hex("K=V")) == "OK");
  CHECK(t.ask("QSetWorkingDir:" + protocol::to_hex("/tmp")) == "OK");
  const auto stop = t.ask("vRun;" + protocol::to_hex("/bin/prog") + ";" + protocol::to_hex("-v"));
  CHECK(stop.starts_with("T05"));
  CHECK(stop.find("thread:pc8.c8;") != std::string::npos);  // pid 200
  REQUIRE(t.factory.launched.size() == 1);
  const auto& launched = t.factory.launched.front();
  CHECK(launched.argv == std::vector<std::string>{"/bin/prog", "-v"});
  CHECK(launched.working_directory == "/tmp");
  REQUIRE(launched.environment);
  CHECK(std::count(launched.environment->begin(), launched.environment->end(), "K=V") == 1);
  auto* current = dynamic_cast<FakeProgram*>(t.programs.current());
  REQUIRE(current != nullptr);
  CHECK(current->signals_.pass == std::set<int>{SIGUSR1});
  // The old program lives on beside it (gdb's inferior 1), and is listed too.
  REQUIRE(t.programs.find(100) != nullptr);
  CHECK(t.programs.find(100)->alive());
  CHECK(t.ask("qfThreadInfo") == "mpc8.c8,pc8.c9,pc8.3b9aca07,p64.64,p64.65,p64.3b9aca07");
  // An empty program name runs the one gostub knows.
  t.ask("vRun;");
  CHECK(t.factory.launched.back().argv.front() == "/bin/prog");
  // A launch that fails: gdb reads why; lldb's A answers OK and tells on qLaunchSuccess.
  CHECK(t.ask("vRun;" + protocol::to_hex("/missing")) == "E./missing: not found");
  CHECK(t.ask("qLaunchSuccess") == "E/missing: not found");
  // Attach: the stop is SIGSTOP (gdb's 17).
  CHECK(t.ask("vAttach;1f4").starts_with("T11"));
  CHECK(t.ask("qAttached") == "1");
}

TEST_CASE("monitor: console output then OK; exit asks the server to stop") {
  Transcript t;
  const auto help = t.exchange("qRcmd," + protocol::to_hex("help"));
  REQUIRE(help.size() == 2);
  CHECK(protocol::from_hex(help[0].substr(1))
            .value_or("")
            .starts_with("The following monitor commands are supported:\n"));
  CHECK(help[1] == "OK");
  const auto info = t.exchange("qRcmd," + protocol::to_hex("info"));
  CHECK(protocol::from_hex(info[0].substr(1)) == "gostub: not a Go program\n");
  CHECK(t.exchange("qRcmd," + protocol::to_hex("exit")) == std::vector<std::string>{"OK"});
  CHECK(t.exit_requested);
}

TEST_CASE("monitor: gdbserver's debug switches and words; an unknown command gets E01") {
  Transcript t;
  const auto console = [&](std::string_view command) {
    const auto replies = t.exchange("qRcmd," + protocol::to_hex(command));
    REQUIRE(replies.size() == 2);
    return protocol::from_hex(replies[0].substr(1)).value_or("") + "|" + replies[1];
  };
  CHECK(console("set debug 1") == "Debug output enabled.\n|OK");
  CHECK(console("set debug 0") == "Debug output disabled.\n|OK");
  CHECK(console("set remote-debug 1") == "Protocol debug output enabled.\n|OK");
  CHECK(console("set remote-debug 0") == "Protocol debug output disabled.\n|OK");
  CHECK(console("set event-loop-debug 1") == "Event loop debug output enabled.\n|OK");
  CHECK(console("set event-loop-debug 0") == "Event loop debug output disabled.\n|OK");
  CHECK(console("set debug-format all") == "All extra debug format options enabled.\n|OK");
  CHECK(console("set debug-format timestamp") == "Timestamps will be added to debug output.\n|OK");
  CHECK(console("set debug-format none") == "All extra debug format options disabled.\n|OK");
  CHECK(console("set debug 2").ends_with("|E01"));
  CHECK(console("set debug-format sometimes").starts_with("Unknown debug-format argument"));
  CHECK(console("frob").starts_with("Unknown monitor command 'frob'."));
  CHECK(console("frob").ends_with("|E01"));
  CHECK(console("").ends_with("|E01"));
  // A search path with no libthread_db: thread-local storage is not found, as for gdbserver.
  const auto tls = "qGetTLSAddr:p64.64,10,0";
  const auto found = t.ask(tls);
  CHECK(console("set libthread-db-search-path /foo/bar") ==
        "libthread-db-search-path set to `/foo/bar'\n|OK");
  CHECK(t.ask(tls) == "E.no libthread_db in libthread-db-search-path");
  CHECK(console("set libthread-db-search-path") ==
        "libthread-db-search-path set to `$pdir:$sdir'\n|OK");
  CHECK(t.ask(tls) == found);
}

TEST_CASE("--disable-packet: vCont, qC, thread lists, thread: in stop replies, T") {
  server::SessionOptions options;
  options.disabled = *server::parse_disabled_packets("threads");
  Transcript t(true, options);
  CHECK(t.ask("vCont?").empty());
  CHECK(t.ask("vCont;c").empty());
  CHECK(t.ask("qC").empty());
  CHECK(t.ask("qfThreadInfo").empty());
  CHECK(t.ask("qsThreadInfo").empty());
  const auto stop = t.ask("?");
  CHECK(stop.starts_with("T05"));
  CHECK(stop.find("thread:") == std::string::npos);

  options.disabled = *server::parse_disabled_packets("T");
  Transcript s(true, options);
  CHECK(s.ask("?") == "S05");
  CHECK(s.ask("vCont?").starts_with("vCont;"));
}

TEST_CASE("gdbserver's command line: --wrapper ... --, --debug[=components], the lists") {
  using server::take_early_options;
  const auto early = take_early_options({"gostub", "--once", "--wrapper", "env", "X=1", "--",
                                         "--debug", ":1", "prog", "--wrapper", "--debug"});
  REQUIRE(early.has_value());
  CHECK(early->wrapper == std::vector<std::string>{"env", "X=1"});
  CHECK(early->debug.threads);
  CHECK_FALSE(early->debug.remote);
  // After the address, everything is the program's.
  CHECK(early->rest ==
        std::vector<std::string>{"gostub", "--once", ":1", "prog", "--wrapper", "--debug"});
  CHECK_FALSE(take_early_options({"gostub", "--wrapper", "env", ":1", "prog"}).has_value());
  CHECK_FALSE(take_early_options({"gostub", "--wrapper", "--", ":1", "prog"}).has_value());
  const auto components = take_early_options({"gostub", "--debug=remote,event-loop", ":1"});
  REQUIRE(components.has_value());
  CHECK_FALSE(components->debug.threads);
  CHECK(components->debug.remote);
  CHECK(components->debug.event_loop);
  CHECK_FALSE(take_early_options({"gostub", "--debug=bogus", ":1"}).has_value());
  // A value of an option CLI11 reads is not the address.
  const auto valued =
      take_early_options({"gostub", "--catch", "none", "--wrapper", "a", "--", ":1", "p"});
  REQUIRE(valued.has_value());
  CHECK(valued->wrapper == std::vector<std::string>{"a"});

  const auto disabled = server::parse_disabled_packets("vCont,Tthread");
  REQUIRE(disabled.has_value());
  CHECK(disabled->vcont);
  CHECK(disabled->stop_thread);
  CHECK_FALSE(disabled->thread_list);
  CHECK(server::parse_disabled_packets("vCont,nope").error() == "nope");
  CHECK(server::parse_debug_format("none,timestamp") == true);
  CHECK(server::parse_debug_format("all,none") == false);
  CHECK_FALSE(server::parse_debug_format("x").has_value());
}

TEST_CASE("qXfer: target.xml per dialect, threads with names escaped, chunks from one copy") {
  Transcript t;
  t.ask("qSupported:multiprocess+");
  const auto threads = t.ask("qXfer:threads:read::0,fff");
  CHECK(threads.starts_with("l<?xml"));
  CHECK(threads.find(R"(<thread id="p64.65" core="1" name="fake&lt;&amp;&gt;"/>)") !=
        std::string::npos);
  CHECK(t.ask("qXfer:exec-file:read::0,100") == "l/srv/fake");
  CHECK(t.ask("qXfer:exec-file:read::0,4") == "m/srv");
  CHECK(t.ask("qXfer:exec-file:read::4,100") == "l/fake");
  CHECK(t.ask("qXfer:features:read:other.xml:0,100") == "E02");
  CHECK(t.ask("qXfer:nothing:read::0,100").empty());
  CHECK(t.ask("qXfer:features:read:target.xml:0,fffff").find("org.gnu.gdb.i386.core") !=
        std::string::npos);
}

TEST_CASE("hardware breakpoints and watchpoints: Z1-Z4, stop replies for gdb and lldb") {
  Transcript t;
  const auto features = t.ask("qSupported:multiprocess+;swbreak+;hwbreak+");
  CHECK(features.find(";hwbreak+") != std::string::npos);
  CHECK(t.ask("Z1,401000,1") == "OK");
  CHECK(t.ask("Z2,c000010000,8") == "OK");
  CHECK(t.ask("Z4,c000010010,4") == "OK");
  CHECK(t.ask("Z3,c000010020,4").empty());  // gdb falls back to Z4, as with gdbserver
  CHECK(t.ask("Z2,c000010030,1") == "OK");
  CHECK(t.ask("Z2,c000010040,1") == "E1c");  // ENOSPC: the fifth
  CHECK(t.ask("z2,c000010030,1") == "OK");
  CHECK(t.ask("z2,c000010030,1") == "E02");
  REQUIRE(t.program->hardware_.size() == 3);
  CHECK(t.program->hardware_[0].kind == target::HardwareKind::kExecute);
  CHECK(t.program->hardware_[2].kind == target::HardwareKind::kAccess);

  CHECK(t.exchange("vCont;c").empty());
  StopEvent hit{StopEvent::Kind::kSignal, 100, SIGTRAP, 0};
  hit.hardware = target::HardwareHit{target::HardwareKind::kWrite, 1, 0xc000010000};
  t.session.on_stop(t.program->stop(hit));
  REQUIRE(t.sink->packets.size() == 1);
  CHECK(t.sink->packets[0].starts_with("T05"));
  CHECK(t.sink->packets[0].ends_with(";watch:c000010000;"));

  CHECK(t.exchange("vCont;c").empty());
  hit.hardware = target::HardwareHit{target::HardwareKind::kAccess, 2, 0xc000010010};
  t.sink->packets.clear();
  t.session.on_stop(t.program->stop(hit));
  CHECK(t.sink->packets.at(0).ends_with(";awatch:c000010010;"));

  CHECK(t.exchange("vCont;c").empty());
  hit.hardware = target::HardwareHit{target::HardwareKind::kExecute, 0, 0x401000};
  t.sink->packets.clear();
  t.session.on_stop(t.program->stop(hit));
  CHECK(t.sink->packets.at(0).ends_with(";hwbreak:;"));
}

TEST_CASE("lldb: watchpoint count, Z3 taken, and the watchpoint stop reason") {
  Transcript t;
  t.become_lldb();
  CHECK(t.ask("qWatchpointSupportInfo:") == "num:4;");
  CHECK(t.ask("Z3,c000010020,4") == "OK");
  CHECK(t.program->hardware_.at(0).kind == target::HardwareKind::kRead);
  CHECK(t.exchange("vCont;c").empty());
  StopEvent hit{StopEvent::Kind::kSignal, 100, SIGTRAP, 0};
  hit.hardware = target::HardwareHit{target::HardwareKind::kRead, 0, 0x1000};
  t.session.on_stop(t.program->stop(hit));
  const auto reply = t.sink->packets.at(0);
  CHECK(reply.find(";reason:watchpoint;") != std::string::npos);
  CHECK(reply.find(";description:343039362030;") != std::string::npos);  // "4096 0"
  CHECK(reply.find("watch:") == std::string::npos);
}

TEST_CASE("$_siginfo: qXfer:siginfo read and write, and lldb's crash description") {
  Transcript t;
  const auto features = t.ask("qSupported:multiprocess+;swbreak+");
  CHECK(features.find("qXfer:siginfo:read+;qXfer:siginfo:write+") != std::string::npos);
  const auto read = t.ask("qXfer:siginfo:read::0,1000");
  REQUIRE(read.size() == 129);
  CHECK(read[0] == 'l');
  CHECK(read[1] == 11);
  // gdb writes the field it changed: si_addr at offset 16.
  CHECK(t.ask("qXfer:siginfo:write::10:\x34\x12") == "2");
  CHECK(t.program->siginfo_.substr(16, 2) == "\x34\x12");
  CHECK(t.program->siginfo_.size() == 128);
  CHECK(t.ask("qXfer:siginfo:write::7f:ab") == "E16");  // past the end
  CHECK(t.ask("qXfer:features:write:target.xml:0:ab").empty());

  Transcript l;
  l.become_lldb();
  CHECK(l.exchange("vCont;c").empty());
  l.program->siginfo_[16] = 0;
  l.program->siginfo_[17] = 0;
  l.session.on_stop(l.program->stop(StopEvent{StopEvent::Kind::kSignal, 100, SIGSEGV, 0}));
  const auto reply = l.sink->packets.at(0);
  CHECK(reply.find(";reason:signal;description:" +
                   protocol::to_hex("signal SIGSEGV: address not mapped to object (fault "
                                    "address: 0x0)") +
                   ";") != std::string::npos);
}

TEST_CASE("lldb: qRegisterInfo describes the g packet's registers") {
  Transcript t;
  t.become_lldb();
  // Delve reads registers with g and slices them at these offsets.
  CHECK(t.ask("qRegisterInfo0") ==
        "name:rax;bitsize:64;offset:0;encoding:uint;format:hex;set:General Purpose Registers;"
        "ehframe:0;dwarf:0;");
  CHECK(t.ask("qRegisterInfo2") ==
        "name:rcx;bitsize:64;offset:16;encoding:uint;format:hex;set:General Purpose Registers;"
        "ehframe:2;dwarf:2;generic:arg4;");
  CHECK(t.ask("qRegisterInfo10") ==
        "name:rip;bitsize:64;offset:128;encoding:uint;format:hex;set:General Purpose Registers;"
        "ehframe:16;dwarf:16;generic:pc;");
  CHECK(t.ask("qRegisterInfo11") ==
        "name:eflags;alt-name:rflags;bitsize:32;offset:136;encoding:uint;format:hex;"
        "set:General Purpose Registers;ehframe:49;dwarf:49;generic:flags;");
  const auto st0 = t.ask("qRegisterInfo18");
  CHECK(st0.starts_with("name:st0;bitsize:80;"));
  CHECK(st0.find("encoding:vector;format:vector-uint8;set:Floating Point Registers;") !=
        std::string::npos);
  const auto fs_base = t.ask("qRegisterInfo3a");
  CHECK(fs_base.starts_with("name:fs_base;bitsize:64;"));
  CHECK(fs_base.ends_with("ehframe:58;dwarf:58;generic:tp;"));
  // No sub-registers (eax…al): the client's x86 ABI derives them, as for target.xml.
  std::size_t count = 0;
  while (t.ask(fmt::format("qRegisterInfo{:x}", count)).starts_with("name:")) ++count;
  CHECK(count == target::x86_64_registers().size());
  CHECK(t.ask(fmt::format("qRegisterInfo{:x}", count)) == "E45");
  CHECK(t.ask("qRegisterInfozz") == "E16");  // malformed: EINVAL
}

TEST_CASE("lldb: _M allocates memory in the program and _m frees it") {
  Transcript t;
  t.become_lldb();
  CHECK(t.ask("_M100,rwx") == "70000000");
  CHECK(t.program->allocated_.at(0x7000'0000) == 0x100);
  CHECK(t.ask("_M100,rx").starts_with("E"));   // the fake allocates rwx only
  CHECK(t.ask("_M100,rwq").starts_with("E"));  // malformed permissions
  CHECK(t.ask("_m70000000") == "OK");
  CHECK(t.program->allocated_.empty());
  CHECK(t.ask("_m70000000").starts_with("E"));
}

TEST_CASE("R restarts the last program in extended mode, with no reply; not outside it") {
  Transcript t;
  CHECK(t.ask("R00").empty());  // not extended: unsupported
  CHECK(t.factory.launched.empty());
  CHECK(t.ask("!") == "OK");
  CHECK(t.ask("vRun;" + protocol::to_hex("/bin/prog") + ";" + protocol::to_hex("a1"))
            .starts_with("T05"));
  CHECK(t.exchange("R00").empty());
  REQUIRE(t.factory.launched.size() == 2);
  CHECK(t.factory.launched.back().argv == std::vector<std::string>{"/bin/prog", "a1"});
  CHECK(t.ask("?").starts_with("T05"));
}

TEST_CASE("qXfer:osdata: the types, then every process (gdb's info os processes)") {
  Transcript t;
  CHECK(t.ask("qSupported").find("qXfer:osdata:read+") != std::string::npos);
  CHECK(t.ask("qXfer:osdata:read::0,fff").find("<column name=\"Type\">processes</column>") !=
        std::string::npos);
  const auto processes = t.ask("qXfer:osdata:read:processes:0,ffff");
  CHECK(processes.find("<osdata type=\"processes\">") != std::string::npos);
  CHECK(processes.find("<column name=\"pid\">1</column>") != std::string::npos);
  CHECK(t.ask("qXfer:osdata:read:nothing:0,fff") == "l");  // empty, as gdbserver
}

TEST_CASE("several inferiors: each named by pid, resumed, stopped, killed and detached alone") {
  Transcript t;
  t.ask("qSupported:multiprocess+;fork-events+");
  t.ask("!");
  CHECK(t.ask("vAttach;1f4").starts_with("T11"));  // pid 500 joins pid 100
  auto* second = dynamic_cast<FakeProgram*>(t.programs.find(500));
  REQUIRE(second != nullptr);
  CHECK(t.programs.current() == second);
  CHECK(t.ask("vAttach;1f4") == "E.Already attached to process 500");
  // Hg turns the session to a program; registers and qC follow.
  CHECK(t.ask("Hgp64.65") == "OK");
  CHECK(t.programs.current() == t.program);
  CHECK(t.ask("qC") == "QCp64.65");
  CHECK(t.ask("Hgp999.999") == "E03");
  // schedule-multiple off: gdb resumes one process; the other stays stopped.
  CHECK(t.exchange("vCont;c:p1f4.-1").empty());
  CHECK(second->plan_.size() == 2);
  CHECK(t.program->plan_.empty());
  t.sink->packets.clear();
  t.session.on_stop(*second,
                    second->stop(StopEvent{StopEvent::Kind::kBreakpoint, 501, SIGTRAP, 0}));
  REQUIRE(t.sink->packets.size() == 1);
  CHECK(t.sink->packets[0].find("thread:p1f4.1f5;") != std::string::npos);
  CHECK(t.programs.current() == second);
  // schedule-multiple on: both run; a stop of one stops the other (all-stop).
  CHECK(t.exchange("vCont;c").empty());
  CHECK(t.program->running());
  CHECK(second->running());
  t.sink->packets.clear();
  t.session.on_stop(*t.program,
                    t.program->stop(StopEvent{StopEvent::Kind::kSignal, 100, SIGUSR1, 0}));
  REQUIRE(t.sink->packets.size() == 1);
  CHECK(t.sink->packets[0].starts_with("T1e"));
  CHECK(!second->running());
  // An exit seen while another's stop was being told is told at that program's next resume.
  t.session.on_stop(*second, second->stop(StopEvent{StopEvent::Kind::kExited, 500, 0, 3}));
  CHECK(t.exchange("vCont;c").empty() == false);
  CHECK(t.sink->packets.back() == "W03;process:1f4");
  // One program killed; the other lives. A pid that is gone is an error, not a crash.
  CHECK(t.ask("vKill;64") == "OK");
  CHECK(!t.program->alive());
  CHECK(t.ask("vKill;64") == "E03");
  CHECK(t.ask("D;64") == "E03");
}

TEST_CASE("a fork child gdb keeps (detach-on-fork off) is a program of its own") {
  Transcript t;
  t.ask("qSupported:multiprocess+;fork-events+");
  t.program->fork_children_ = {0x200};
  t.exchange("vCont;c");
  StopEvent fork{StopEvent::Kind::kFork, 100, SIGTRAP, 0};
  fork.child = 0x200;
  t.sink->packets.clear();
  t.session.on_stop(t.program->stop(fork));
  REQUIRE(t.sink->packets.size() == 1);
  CHECK(t.sink->packets[0].find("fork:p200.200;") != std::string::npos);
  auto* child = dynamic_cast<FakeProgram*>(t.programs.find(0x200));
  REQUIRE(child != nullptr);
  CHECK(t.ask("qfThreadInfo") == "mp64.64,p64.65,p64.3b9aca07,p200.200,p200.201,p200.3b9aca07");
  CHECK(t.ask("Hgp200.200") == "OK");
  CHECK(t.ask("Z0,1010,1") == "OK");
  CHECK(child->breakpoints_.contains(0x1010));
  CHECK(!t.program->breakpoints_.contains(0x1010));
  CHECK(t.exchange("vCont;c:p200.-1").empty());
  CHECK(child->running());
  CHECK(!t.program->running());
  t.session.on_interrupt();
  CHECK(t.sink->packets.back().find("thread:p200.201;") != std::string::npos);
  // Detaching the parent (follow-fork-mode child) leaves the child current.
  CHECK(t.ask("D;64") == "OK");
  CHECK(t.programs.current() == child);
  CHECK(t.ask("?").find("p200.") != std::string::npos);
}

TEST_CASE("thread create and exit stops when asked for; N when nothing resumed is left") {
  Transcript t;
  const auto supported = t.ask("qSupported:multiprocess+;no-resumed+");
  CHECK(supported.find(";QThreadEvents+") != std::string::npos);
  CHECK(supported.find(";no-resumed+") != std::string::npos);
  CHECK(t.ask("QThreadEvents:1") == "OK");
  const auto stop = [&](StopEvent event) {
    t.exchange("vCont;c");
    t.sink->packets.clear();
    t.session.on_stop(t.program->stop(event));
    return t.sink->packets;
  };
  const auto created = stop(StopEvent{StopEvent::Kind::kThreadCreated, 101, SIGTRAP, 0});
  REQUIRE(created.size() == 1);
  CHECK(created[0].starts_with("T05"));
  CHECK(created[0].find("create:;") != std::string::npos);
  CHECK(created[0].find("thread:p64.65;") != std::string::npos);
  CHECK(stop(StopEvent{StopEvent::Kind::kThreadExited, 101, 0, 0}) ==
        std::vector<std::string>{"w0;p64.65"});
  CHECK(stop(StopEvent{StopEvent::Kind::kNoResumed, 100, 0, 0}) == std::vector<std::string>{"N"});
  // A client that did not say no-resumed+ is not told (as gdbserver).
  Transcript plain;
  plain.ask("qSupported:multiprocess+");
  CHECK(plain.ask("qSupported:multiprocess+").find("no-resumed+") == std::string::npos);
  plain.exchange("vCont;c");
  plain.sink->packets.clear();
  plain.session.on_stop(plain.program->stop(StopEvent{StopEvent::Kind::kNoResumed, 100, 0, 0}));
  CHECK(plain.sink->packets.empty());
}

namespace {

// The thread that hit a tracepoint: rax points at 0x1010 in the fake's memory.
struct HitThread : protocol::AgentContext {
  const FakeProgram& program;
  explicit HitThread(const FakeProgram& owner) : program(owner) {}
  std::optional<std::uint64_t> register_value(std::uint32_t regno) const override {
    return regno == 0 ? std::optional<std::uint64_t>(0x1010) : std::nullopt;
  }
  bool read_memory(std::uint64_t address, std::span<char> out) const override {
    const auto got = program.read_memory(address, out);
    return got && *got == out.size();
  }
};

}  // namespace

TEST_CASE("tracepoints: gdb's tstart, tstop, tstatus, tfind and tdump as packets") {
  Transcript t;
  t.ask("qSupported:multiprocess+");
  CHECK(t.ask("qTStatus").starts_with("T0;tnotrun:0;tframes:0;tcreated:0;tfree:500000;"));
  CHECK(t.ask("qTfP") == "l");
  CHECK(t.ask("qTfV") == "l");
  // gdb 13.1's `trace main.handle` / `collect $regs, req.ID` / `tstart`.
  CHECK(t.ask("QTinit") == "OK");
  CHECK(t.ask("QTDP:1:0000000000401064:E:0:0-") == "OK");
  CHECK(t.ask("QTDP:-1:0000000000401064:R0fffffffffffffffff-") == "OK");
  CHECK(t.ask("QTDP:-1:0000000000401064:X00000009,2600002a4022080c27") == "OK");
  CHECK(t.ask("QTDPsrc:1:401064:at:0:b:6d61696e2e68616e646c65") == "OK");
  CHECK(t.ask("QTDV:1:0000000000000000:1:74726163655f74696d657374616d70") == "OK");
  CHECK(t.ask("QTro:0000000000001000,0000000000001004") == "OK");
  CHECK(t.ask("QTDisconnected:0") == "OK");
  CHECK(t.ask("QTBuffer:circular:0") == "OK");
  CHECK(t.ask("QTBuffer:size:-1") == "OK");
  CHECK(t.ask("QTNotes:user:;notes:;") == "OK");
  CHECK(t.ask("QTDP:2:401070:E:1:0") ==
        "E.while-stepping is not offered: gostub collects at the hit only");
  CHECK(t.ask("QTFrame:0") == "F-1");
  CHECK(t.ask("QTStart") == "OK");
  CHECK(t.program->tracepoint_breakpoints_ == std::set<std::uint64_t>{0x401064});
  CHECK(t.ask("qTStatus").starts_with("T1;tnotrun:0;tframes:0;"));
  // Two hits, as TracedProgram's hit filter reports them.
  std::string file(target::register_file_size(), '\x11');
  const HitThread thread(*t.program);
  for (int i = 0; i < 2; ++i) {
    CHECK(t.program->trace_.hit(0x401064, thread, [&] { return std::optional(file); }) == 1);
  }
  // Defined while tracing (InstallInTrace): in place once its last packet came; disabled: out.
  CHECK(t.ask("QTDP:3:401080:E:0:0-") == "OK");
  CHECK(t.program->tracepoint_breakpoints_.size() == 1);
  CHECK(t.ask("QTDP:-3:401080:R01") == "OK");
  CHECK(t.program->tracepoint_breakpoints_ == std::set<std::uint64_t>{0x401064, 0x401080});
  CHECK(t.ask("QTDisable:3:401080") == "OK");
  CHECK(t.program->tracepoint_breakpoints_ == std::set<std::uint64_t>{0x401064});
  CHECK(t.ask("QTEnable:9:401080") == "E.no such tracepoint");
  CHECK(t.ask("QTStop") == "OK");
  CHECK(t.program->tracepoint_breakpoints_.empty());
  CHECK(t.ask("qTStatus").starts_with("T0;tstop::0;tframes:2;tcreated:2;"));
  CHECK(t.ask("qTP:1:401064").starts_with("V2:"));
  CHECK(t.ask("qTfP") == "T1:401064:E:0:0");
  CHECK(t.ask("qTsP") == "A1:401064:R0fffffffffffffffff");
  CHECK(t.ask("qTsP") == "A1:401064:X00000009,2600002a4022080c27");
  CHECK(t.ask("qTsP") == "Z1:401064:at:0:b:6d61696e2e68616e646c65");
  CHECK(t.ask("qTsP") == "T3:401080:D:0:0");
  CHECK(t.ask("qTsP") == "A3:401080:R01");
  CHECK(t.ask("qTsP") == "l");
  CHECK(t.ask("qTfV") == "1:0:1:74726163655f74696d657374616d70");
  CHECK(t.ask("qTsV") == "l");
  CHECK(t.ask("qTV:1") == "V0");
  CHECK(t.ask("qTV:9") == "U");

  // tfind start; tdump: registers and memory from the frame.
  CHECK(t.ask("QTFrame:0") == "F0T1");
  CHECK(t.ask("g") == protocol::to_hex(file));
  CHECK(t.ask("p10") == "1111111111111111");
  CHECK(t.ask("m1010,8") == "1011121314151617");                  // collected (req.ID)
  CHECK(t.ask("m1010,10") == "1011121314151617");                 // only what was collected
  CHECK(t.ask("m1020,4") == "E05");                               // not collected: <unavailable>
  CHECK(t.ask("m1000,4") == "00010203");                          // read-only (QTro): read live
  CHECK(t.ask("x1010,4") == std::string("\x10\x11\x12\x13", 4));  // binary reads too
  CHECK(t.ask("x1020,4") == "E05");
  CHECK(t.ask("qXfer:traceframe-info:read::0,1000") ==
        "l<traceframe-info>\n<memory start=\"0x1010\" length=\"0x8\"/>\n</traceframe-info>\n");
  CHECK(t.ask("M1010,1:00").starts_with("E."));
  CHECK(t.ask("G" + protocol::to_hex(file)).starts_with("E."));
  CHECK(t.ask("QTFrame:1") == "F1T1");
  CHECK(t.ask("QTFrame:pc:401064") == "F-1");  // searches go forward: none after frame 1
  CHECK(t.ask("QTFrame:2") == "F-1");
  // tfind none: the live program again.
  CHECK(t.ask("QTFrame:ffffffff") == "OK");
  CHECK(t.ask("m1020,4") == "20212223");
  CHECK(t.ask("qXfer:traceframe-info:read::0,1000") == "E16");
}

TEST_CASE("tracepoints: no program, and a client that leaves ends the run") {
  {
    Transcript t(false);
    CHECK(t.ask("qTStatus").starts_with("T0;tnotrun:0;"));
    CHECK(t.ask("qTfP") == "l");
    CHECK(t.ask("QTinit").starts_with("E.tracepoints need"));
  }
  FakeFactory factory;
  server::Programs programs{factory};
  auto owned = std::make_unique<FakeProgram>();
  auto* program = owned.get();
  programs.add(std::move(owned));
  server::GoSettings settings;
  for (const bool keep : {false, true}) {
    {
      server::GdbSession session{programs, std::make_shared<Recorder>(), {}, settings};
      session.on_packet("QTinit");
      session.on_packet("QTDP:1:401064:E:0:0");
      session.on_packet(keep ? "QTDisconnected:1" : "QTDisconnected:0");
      session.on_packet("QTStart");
      REQUIRE(program->trace_.running());
    }
    CHECK(program->trace_.running() == keep);
    CHECK(program->trace_.status().starts_with(keep ? "T1;" : "T0;tdisconnected:0;"));
  }
}

namespace {
// A T stop reply (or %Stop notification) that starts with `start` and names `thread`.
bool is_stop(std::string_view reply, std::string_view start, std::string_view thread) {
  return reply.starts_with(start) &&
         reply.find(fmt::format("thread:{};", thread)) != std::string_view::npos;
}
}  // namespace

TEST_CASE("non-stop: the last running thread ended unseen: %Stop:N, to a client that asked") {
  for (const bool asked : {true, false}) {
    CAPTURE(asked);
    Transcript t;
    (void)t.ask(asked ? "qSupported:multiprocess+;no-resumed+" : "qSupported:multiprocess+");
    CHECK(t.ask("QNonStop:1") == "OK");
    CHECK(t.ask("vCont;c:p64.65") == "OK");
    t.sink->packets.clear();
    t.program->running_threads_.erase(101);  // it exited, unseen
    t.session.on_stop(*t.program,
                      t.program->stop(StopEvent{StopEvent::Kind::kNoResumed, 100, 0, 0}));
    if (asked) {
      REQUIRE(t.sink->packets.size() == 1);
      CHECK(t.sink->packets[0] == "%Stop:N");
      CHECK(t.ask("vStopped") == "OK");
    } else {
      CHECK(t.sink->packets.empty());
    }
  }
}

TEST_CASE("vCtrlC, and 0x03 while nothing runs: SIGINT to the current program") {
  Transcript t;
  CHECK(t.ask("QNonStop:1") == "OK");
  CHECK(t.ask("vCtrlC") == "OK");
  CHECK(t.program->interrupt_signals_ == 1);
  // A 0x03 that crosses a stop reply (nothing runs): SIGINT, pending till the next resume.
  Transcript stepping;
  stepping.sink->packets.clear();
  stepping.session.on_interrupt();
  CHECK(stepping.sink->packets.empty());
  CHECK(stepping.program->interrupt_signals_ == 1);
  Transcript empty(false);
  CHECK(empty.ask("vCtrlC").starts_with("E"));
}

TEST_CASE("non-stop: QNonStop, resume answered OK, each stop a %Stop, vStopped drains the queue") {
  Transcript t;
  CHECK(t.ask("qSupported:multiprocess+;swbreak+").find(";QNonStop+") != std::string::npos);
  CHECK(t.ask("QNonStop:2").starts_with("E"));
  CHECK(t.ask("QNonStop:1") == "OK");
  CHECK(t.program->non_stop_);
  // `?` with everything stopped: the leader's launch stop, then OK. Thread 101, stopped and
  // never told (as an attach leaves them), is not: gdb counts it running and stops it with
  // vCont;t, which tells T00 at once (gdbserver's way).
  const auto first = t.ask("?");
  CHECK(is_stop(first, "T05", "p64.64"));
  CHECK(t.ask("vStopped") == "OK");
  CHECK(t.ask("vStopped") == "OK");  // nothing queued: still OK
  const auto told = t.exchange("vCont;t:p64.65");
  REQUIRE(told.size() == 2);
  CHECK(is_stop(told[0], "%Stop:T00", "p64.65"));
  CHECK(told[1] == "OK");
  CHECK(t.ask("vStopped") == "OK");
  t.program->stop_requests_.clear();  // the engine ignores a stop asked of a stopped thread
  // Told now: `?` tells it again, with the leader's.
  CHECK(is_stop(t.ask("?"), "T05", "p64.64"));
  CHECK(is_stop(t.ask("vStopped"), "T00", "p64.65"));
  CHECK(t.ask("vStopped") == "OK");
  // One thread continues: OK at once, and only it is in the plan.
  CHECK(t.ask("vCont;c:p64.65") == "OK");
  REQUIRE(t.program->plan_.size() == 1);
  CHECK(t.program->plan_[0].tid == 101);
  // Packets are served while it runs (no EBUSY); its registers cannot be read, memory can.
  CHECK(t.ask("m1004,2") == "0405");
  // vCont;c of every thread: the running one is left alone, the stopped leader runs.
  CHECK(t.ask("vCont;c") == "OK");
  REQUIRE(t.program->plan_.size() == 1);
  CHECK(t.program->plan_[0].tid == 100);
  // Two threads stop: the first is a notification, the second waits for vStopped.
  t.sink->packets.clear();
  t.session.on_stop(*t.program,
                    t.program->stop(StopEvent{StopEvent::Kind::kBreakpoint, 101, SIGTRAP, 0}));
  t.session.on_stop(*t.program,
                    t.program->stop(StopEvent{StopEvent::Kind::kSignal, 100, SIGUSR1, 0}));
  REQUIRE(t.sink->packets.size() == 1);
  CHECK(is_stop(t.sink->packets[0], "%Stop:T05", "p64.65"));
  CHECK(t.sink->packets[0].find("swbreak:;") != std::string::npos);
  // gdb resumes everything before pulling these stops: both threads stay stopped (gdbserver's
  // rule; gdb resumes them once it has seen their stops).
  t.program->plan_.clear();
  CHECK(t.ask("vCont;c") == "OK");
  CHECK(t.program->plan_.empty());
  CHECK(is_stop(t.ask("vStopped"), "T1e", "p64.64"));  // gdb's SIGUSR1 is 30
  CHECK(t.ask("vStopped") == "OK");
  // The queue is empty again: the next stop is a notification of its own.
  CHECK(t.ask("vCont;c:p64.65") == "OK");
  CHECK(t.exchange("vCont;t:p64.65").empty() == false);
  CHECK(t.program->stop_requests_ == std::vector<pid_t>{101});
  t.sink->packets.clear();
  StopEvent requested{StopEvent::Kind::kInterrupt, 101, 0, 0};
  requested.requested = true;
  t.session.on_stop(*t.program, t.program->stop(requested));
  REQUIRE(t.sink->packets.size() == 1);
  CHECK(is_stop(t.sink->packets[0], "%Stop:T00", "p64.65"));
  // `?` drops what was queued and tells every stopped thread again.
  CHECK(is_stop(t.ask("?"), "T1e", "p64.64"));
  CHECK(is_stop(t.ask("vStopped"), "T00", "p64.65"));
  CHECK(t.ask("vStopped") == "OK");
}

TEST_CASE("non-stop: nothing stopped answers ? with OK; an exit is a %Stop:W") {
  Transcript t;
  t.ask("qSupported:multiprocess+");
  CHECK(t.ask("QNonStop:1") == "OK");
  CHECK(t.ask("vCont;c") == "OK");
  CHECK(t.ask("?") == "OK");
  CHECK(t.ask("g").starts_with("E"));  // nothing else to read: both threads run
  t.sink->packets.clear();
  t.session.on_stop(*t.program, t.program->stop(StopEvent{StopEvent::Kind::kExited, 100, 0, 3}));
  CHECK(t.sink->packets == std::vector<std::string>{"%Stop:W03;process:64"});
  CHECK(t.ask("vStopped") == "OK");
  // Back to all-stop: resumes wait for their stop reply again.
  CHECK(t.ask("QNonStop:0") == "OK");
  CHECK_FALSE(t.program->non_stop_);
}

TEST_CASE("non-stop: vAttach answers OK and tells each thread's stop as a notification") {
  Transcript t(false);
  t.ask("qSupported:multiprocess+");
  CHECK(t.ask("QNonStop:1") == "OK");
  const auto replies = t.exchange("vAttach;1f4");
  REQUIRE(replies.size() == 2);
  CHECK(is_stop(replies[0], "%Stop:T00", "p1f4.1f4"));
  CHECK(replies[1] == "OK");
  CHECK(is_stop(t.ask("vStopped"), "T00", "p1f4.1f5"));
  CHECK(t.ask("vStopped") == "OK");
}

TEST_CASE("host I/O: remote put, get and delete, as gdb sends them") {
  Transcript t;
  char directory[] = "/tmp/gostub-host-io-XXXXXX";
  REQUIRE(::mkdtemp(directory) != nullptr);
  const std::string path = std::string(directory) + "/put";
  const auto hex_path = protocol::to_hex(path);
  // `remote put`: O_WRONLY|O_CREAT|O_TRUNC (gdb's values 1|0x200|0x400), mode 0700.
  const auto opened = t.ask(fmt::format("vFile:open:{},601,1c0", hex_path));
  REQUIRE(opened.starts_with("F"));
  const auto fd = opened.substr(1);
  CHECK(t.ask(fmt::format("vFile:pwrite:{},0,ab}}\x03", fd)) == "F3");  // "ab#", # escaped
  CHECK(t.ask(fmt::format("vFile:pwrite:{},3,cd", fd)) == "F2");
  CHECK(t.ask(fmt::format("vFile:close:{}", fd)) == "F0");
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0700);
  // `remote get` reads it back.
  const auto reopened = t.ask(fmt::format("vFile:open:{},0,0", hex_path)).substr(1);
  CHECK(t.ask(fmt::format("vFile:pread:{},100,0", reopened)) ==
        "F5;ab}\x03"
        "cd");
  CHECK(t.ask(fmt::format("vFile:pwrite:{},0,x", reopened)) == "F-1,9");  // read-only: EBADF
  CHECK(t.ask(fmt::format("vFile:close:{}", reopened)) == "F0");
  // O_EXCL on an existing file, unknown flags, a closed descriptor: errors, not crashes.
  CHECK(t.ask(fmt::format("vFile:open:{},a01,1c0", hex_path)) == "F-1,11");  // EEXIST
  CHECK(t.ask(fmt::format("vFile:open:{},10000,0", hex_path)) == "F-1,16");  // EINVAL
  CHECK(t.ask(fmt::format("vFile:pwrite:{},0,x", reopened)) == "F-1,9");
  // `remote delete`.
  CHECK(t.ask(fmt::format("vFile:unlink:{}", hex_path)) == "F0");
  CHECK(::access(path.c_str(), F_OK) != 0);
  CHECK(t.ask(fmt::format("vFile:unlink:{}", hex_path)) == "F-1,2");  // ENOENT
  ::rmdir(directory);
}
