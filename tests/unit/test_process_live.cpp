// The engine against the real kernel: a program stopped at its exec, its XSAVE state, its
// signal information and its debug registers.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "target/process.hpp"
#include "target/registers.hpp"

using namespace gostub::target;

namespace {
std::unique_ptr<Process> launch_stopped() {
  LaunchOptions options;
  options.argv = {"/bin/sleep", "30"};
  options.take_terminal = false;
  auto process = Process::launch(options);
  REQUIRE_MESSAGE(process.has_value(), process.error().message);
  return std::move(*process);
}

std::size_t offset_of(std::string_view name) {
  for (const auto& reg : x86_64_registers()) {
    if (reg.name == name) return reg.offset;
  }
  FAIL("no register ", name);
  return 0;
}

// Resumes as planned and waits for the stop to report.
StopEvent resume_and_wait(Process& process, std::span<const ThreadAction> plan) {
  auto resumed = process.resume(plan);
  REQUIRE(resumed.has_value());
  std::optional<StopEvent> stop = *resumed;
  while (!stop) {
    siginfo_t ready{};
    ::waitid(P_ALL, 0, &ready, WEXITED | WSTOPPED | WNOWAIT | __WALL);  // blocks until one
    stop = process.handle_wait_events();
  }
  return *stop;
}

StopEvent resume_and_wait(Process& process, ThreadAction action) {
  return resume_and_wait(process, std::span(&action, 1));
}

// A C program built for one test case in a directory of its own, removed with it.
class CProgram {
 public:
  CProgram(std::string_view name, const std::string& source) {
    char directory[] = "/tmp/gostub-live-XXXXXX";
    REQUIRE(::mkdtemp(directory) != nullptr);
    directory_ = directory;
    source_ = directory_ + "/" + std::string(name) + ".c";
    path_ = directory_ + "/" + std::string(name);
    std::FILE* file = std::fopen(source_.c_str(), "w");
    REQUIRE(file != nullptr);
    std::fputs(source.c_str(), file);
    std::fclose(file);
    const auto compile = "cc -pthread -o " + path_ + " " + source_;
    REQUIRE(std::system(compile.c_str()) == 0);
  }
  ~CProgram() {
    std::remove(path_.c_str());
    std::remove(source_.c_str());
    ::rmdir(directory_.c_str());
  }
  CProgram(const CProgram&) = delete;
  CProgram& operator=(const CProgram&) = delete;

  std::unique_ptr<Process> launch() const {
    LaunchOptions options;
    options.argv = {path_};
    options.take_terminal = false;
    auto launched = Process::launch(options);
    REQUIRE_MESSAGE(launched.has_value(), launched.error().message);
    return std::move(*launched);
  }

 private:
  std::string directory_, source_, path_;
};
}  // namespace

TEST_CASE("registers written through the XSAVE area read back the same") {
  auto process = launch_stopped();
  const auto tid = process->pid();
  auto file = process->read_registers(tid);
  REQUIRE(file.has_value());
  REQUIRE(file->size() == register_file_size());
  std::string changed = *file;
  changed[offset_of("xmm1")] = 0x5a;
  if (host_xsave_layout().avx != 0) {
    for (int i = 0; i < 16; ++i) changed[offset_of("ymm2h") + i] = static_cast<char>(0x10 + i);
  }
  if (host_xsave_layout().has_avx512()) {
    changed[offset_of("k3")] = 0x33;
    changed[offset_of("zmm5h") + 31] = 0x55;
    changed[offset_of("xmm20")] = 0x20;
    changed[offset_of("zmm31h")] = 0x31;
  }
  REQUIRE(process->write_registers(tid, changed).has_value());
  auto back = process->read_registers(tid);
  REQUIRE(back.has_value());
  CHECK(*back == changed);
  process->kill();
}

TEST_CASE("siginfo of the stopped thread: read, and written back") {
  auto process = launch_stopped();
  const auto tid = process->pid();
  auto info = process->read_siginfo(tid);
  REQUIRE(info.has_value());
  REQUIRE(info->size() == Process::kSiginfoSize);
  int signo = 0;
  std::memcpy(&signo, info->data(), sizeof signo);
  CHECK(signo == SIGTRAP);  // the exec stop
  std::string changed = *info;
  changed[16] = 0x42;  // inside the union
  REQUIRE(process->write_siginfo(tid, changed).has_value());
  CHECK(process->read_siginfo(tid).value() == changed);
  CHECK_FALSE(process->write_siginfo(tid, "short").has_value());
  process->kill();
}

TEST_CASE("debug registers: four slots, then an error; bad addresses refused") {
  auto process = launch_stopped();
  CHECK(process->insert_hardware_point(HardwareKind::kWrite, 0x10000, 8).has_value());
  CHECK(process->insert_hardware_point(HardwareKind::kAccess, 0x10010, 4).has_value());
  CHECK(process->insert_hardware_point(HardwareKind::kAccess, 0x10018, 1).has_value());
  CHECK(process->insert_hardware_point(HardwareKind::kWrite, 0x10020, 2).has_value());
  const auto fifth = process->insert_hardware_point(HardwareKind::kWrite, 0x10030, 1);
  REQUIRE_FALSE(fifth.has_value());
  CHECK(fifth.error().code == ENOSPC);
  CHECK(process->remove_hardware_point(HardwareKind::kWrite, 0x10020, 2).has_value());
  CHECK_FALSE(process->remove_hardware_point(HardwareKind::kWrite, 0x10020, 2).has_value());
  // A kernel address: Linux refuses it, and the slot is given back.
  CHECK_FALSE(
      process->insert_hardware_point(HardwareKind::kWrite, 0xffffffff81000000, 8).has_value());
  CHECK(process->insert_hardware_point(HardwareKind::kWrite, 0x10020, 2).has_value());
  process->kill();
}

TEST_CASE("a hardware breakpoint: a debug register, or an int3 where traps never come") {
  auto process = launch_stopped();
  const auto pc = process->read_pc(process->pid());
  REQUIRE(pc.has_value());
  const auto before = process->read_memory(*pc, 1);
  REQUIRE(before.has_value());
  REQUIRE(process->insert_hardware_point(HardwareKind::kExecute, *pc, 1).has_value());
  if (debug_traps_delivered()) {
    CHECK(process->debug_register(process->pid(), 0).value() == *pc);
    CHECK_FALSE(process->has_breakpoint(*pc));
  } else {
    CHECK(process->debug_register(process->pid(), 7).value() == 0);
    CHECK(process->has_breakpoint(*pc, Process::BreakpointOwner::kHardware));
    CHECK_FALSE(process->has_breakpoint(*pc, Process::BreakpointOwner::kClient));
  }
  CHECK(process->read_memory(*pc, 1).value() == *before);  // never shows an int3
  // Its hit is told as the hardware hit it stands for.
  const auto stop = resume_and_wait(*process, {process->pid(), ResumeKind::kContinue, 0});
  if (!debug_traps_delivered()) {
    CHECK(stop.kind == StopEvent::Kind::kBreakpoint);
    REQUIRE(stop.hardware.has_value());
    CHECK(stop.hardware->kind == HardwareKind::kExecute);
    CHECK(stop.hardware->address == *pc);
  }
  CHECK(process->read_pc(process->pid()).value() == *pc);
  REQUIRE(process->remove_hardware_point(HardwareKind::kExecute, *pc, 1).has_value());
  CHECK_FALSE(process->has_breakpoint(*pc));
  process->kill();
}

TEST_CASE("a thread born after the watchpoint was set gets the debug registers too") {
  LaunchOptions options;
  // The new thread stops itself with SIGUSR1 (reported: not passed), then waits.
  options.argv = {"/usr/bin/python3", "-c",
                  "import signal, threading, time\n"
                  "def run():\n"
                  "    signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)\n"
                  "    time.sleep(60)\n"
                  "threading.Thread(target=run, daemon=True).start()\n"
                  "time.sleep(60)\n"};
  options.take_terminal = false;
  auto launched = Process::launch(options);
  REQUIRE(launched.has_value());
  auto& process = **launched;
  REQUIRE(process.insert_hardware_point(HardwareKind::kWrite, 0x10008, 8).has_value());
  REQUIRE(process.insert_hardware_point(HardwareKind::kAccess, 0x401000, 1).has_value());
  const std::uint64_t expected = 0x1 | 0x4 | 0x100 | (0x9ull << 16) | (0x3ull << 20);
  CHECK(process.debug_register(process.pid(), 7).value() == expected);

  std::vector<ThreadAction> all;
  for (const auto tid : process.threads()) all.push_back({tid, ResumeKind::kContinue, 0});
  const auto stop = resume_and_wait(process, all);
  REQUIRE(stop.kind == StopEvent::Kind::kSignal);
  CHECK(stop.signal == SIGUSR1);
  CHECK(stop.tid != process.pid());  // the new thread
  CHECK(process.threads().size() >= 2);
  for (const auto tid : process.threads()) {
    CHECK(process.debug_register(tid, 7).value() == expected);
    CHECK(process.debug_register(tid, 0).value() == 0x10008);
    CHECK(process.debug_register(tid, 1).value() == 0x401000);
  }
  process.kill();
}

TEST_CASE("launch through the shell and a wrapper stops at the program's own exec") {
  LaunchOptions options;
  options.argv = {"/bin/sleep", "30"};
  options.take_terminal = false;
  options.startup_with_shell = true;
  options.shell = "/bin/sh";
  options.wrapper = {"env", "GOSTUB_WRAPPED=1"};
  options.disable_address_randomization = true;
  auto process = Process::launch(options);
  REQUIRE_MESSAGE(process.has_value(), process.error().message);
  const auto pid = (*process)->pid();
  char exe[256] = {};
  REQUIRE(::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), exe, sizeof exe - 1) > 0);
  CHECK(std::string_view(exe).ends_with("sleep"));
  std::FILE* file = std::fopen(("/proc/" + std::to_string(pid) + "/environ").c_str(), "r");
  REQUIRE(file != nullptr);
  std::string environment(65536, '\0');
  environment.resize(std::fread(environment.data(), 1, environment.size(), file));
  std::fclose(file);
  CHECK(environment.find("GOSTUB_WRAPPED=1") != std::string::npos);
  (*process)->kill();
}

TEST_CASE("a wrapper that fails is told in gdbserver's words") {
  LaunchOptions options;
  options.argv = {"/bin/true"};
  options.take_terminal = false;
  options.startup_with_shell = true;
  options.shell = "/bin/sh";
  options.wrapper = {"/no/such/wrapper"};
  auto process = Process::launch(options);
  REQUIRE_FALSE(process.has_value());
  CHECK(process.error().message == "During startup program exited with code 127.");
}

TEST_CASE("a passed signal that arrives during a client's step is reported, unless held") {
  auto process = launch_stopped();
  const auto tid = process->pid();
  process->set_pass_signals({SIGUSR1, SIGURG});
  process->set_signals_held_while_stepping({SIGURG});
  // Out of the exec stop first: a step from there completes before any pending signal.
  REQUIRE(resume_and_wait(*process, {tid, ResumeKind::kStep, 0}).kind ==
          StopEvent::Kind::kStepDone);

  // Reported, as gdbserver does: the client chooses to step into the handler or over it.
  REQUIRE(::kill(tid, SIGUSR1) == 0);
  auto stop = resume_and_wait(*process, {tid, ResumeKind::kStep, 0});
  CHECK(stop.kind == StopEvent::Kind::kSignal);
  CHECK(stop.signal == SIGUSR1);

  // Held: the step completes, and the signal waits for the next continue.
  REQUIRE(::kill(tid, SIGURG) == 0);
  stop = resume_and_wait(*process, {tid, ResumeKind::kStep, 0});
  CHECK(stop.kind == StopEvent::Kind::kStepDone);
  process->kill();
}

TEST_CASE("a breakpoint whose code was replaced (dlclose, dlopen) is set anew, not trusted") {
  auto process = launch_stopped();
  auto regions = process->memory_regions();
  REQUIRE(regions.has_value());
  const auto stack = std::find_if(regions->begin(), regions->end(), [](const MemoryRegion& region) {
    return region.name == "[stack]";
  });
  REQUIRE(stack != regions->end());
  const auto address = stack->end - 64;
  const auto mem = "/proc/" + std::to_string(process->pid()) + "/mem";
  const int fd = ::open(mem.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  auto raw = [&] {
    unsigned char byte = 0;
    REQUIRE(::pread(fd, &byte, 1, static_cast<off_t>(address)) == 1);
    return byte;
  };
  auto replace = [&](unsigned char byte) {  // another library's code, unknown to the engine
    REQUIRE(::pwrite(fd, &byte, 1, static_cast<off_t>(address)) == 1);
  };
  replace(0x8b);
  REQUIRE(process->insert_breakpoint(address).has_value());
  CHECK(raw() == 0xcc);
  replace(0x55);
  REQUIRE(process->insert_breakpoint(address).has_value());
  CHECK(raw() == 0xcc);                               // the int3 is back
  CHECK(process->read_memory(address, 1) == "\x55");  // under it, the new code's byte
  REQUIRE(process->remove_breakpoint(address).has_value());
  CHECK(raw() == 0x55);
  // Replaced, then removed: the stale byte is not written over the new code.
  REQUIRE(process->insert_breakpoint(address).has_value());
  replace(0x90);
  REQUIRE(process->remove_breakpoint(address).has_value());
  CHECK(raw() == 0x90);
  ::close(fd);
  process->kill();
}

TEST_CASE("a leader that ended before its threads is dropped; the others stop and report") {
  // The leader calls pthread_exit: a zombie no wait reports while the other thread lives.
  // Stopping every thread for the other's signal must not wait for it.
  const std::string source = R"(#include <pthread.h>
#include <signal.h>
static pthread_t leader;
static void* after_leader(void* arg) {
  pthread_join(leader, 0);
  raise(SIGUSR1);
  return arg;
}
int main(void) {
  pthread_t thread;
  leader = pthread_self();
  pthread_create(&thread, 0, after_leader, 0);
  pthread_exit(0);
})";
  const CProgram program("leader", source);
  auto launched = program.launch();
  auto& process = *launched;
  const auto stop = resume_and_wait(process, {process.pid(), ResumeKind::kContinue, 0});
  CHECK(stop.kind == StopEvent::Kind::kSignal);
  CHECK(stop.signal == SIGUSR1);
  CHECK(stop.tid != process.pid());
  CHECK(process.threads() == std::vector<pid_t>{stop.tid});
  process.kill();
}

TEST_CASE(
    "clones of a task group of their own are threads, even when they stop before the clone event") {
  // clone() without CLONE_THREAD: the kernel reports PTRACE_EVENT_CLONE, yet the new task's
  // first stop, in a group of its own, may reach waitpid first. Taken for a fork child's
  // early stop and kept, it was never resumed: the parent's waitpid hung (current-lwp-dead).
  // The kernel lists a tracer's newest tracees first, so a clone's stop comes before its
  // parent's event when that parent is itself a traced clone (not our child, the leader).
  const std::string source = R"(#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <sys/wait.h>
static int clone_and_wait(int (*function)(void*)) {
  char* stack = malloc(0x4000);
  int child = clone(function, stack + 0x4000, CLONE_FILES | CLONE_VM, 0);
  int status;
  int ok = child > 0 && waitpid(child, &status, __WALL) == child && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
  free(stack);
  return ok ? 0 : 1;
}
static int quit(void* unused) { return 0; }
static int middle(void* unused) { return clone_and_wait(quit); }
int main(void) {
  for (int i = 0; i < 100; ++i) {
    if (clone_and_wait(middle) != 0) return 1;
  }
  return 0;
})";
  const CProgram program("clones", source);
  auto launched = program.launch();
  auto& process = *launched;
  const ThreadAction action{process.pid(), ResumeKind::kContinue, 0};
  auto resumed = process.resume(std::span(&action, 1));
  REQUIRE(resumed.has_value());
  std::optional<StopEvent> stop = *resumed;
  // A lost clone hangs the program: poll, with a deadline, rather than block in waitid.
  for (int waited_ms = 0; !stop && waited_ms < 30'000; ++waited_ms) {
    stop = process.handle_wait_events();
    if (!stop) ::usleep(1000);
  }
  REQUIRE_MESSAGE(stop.has_value(), "the program hung: a clone was never resumed");
  CHECK(stop->kind == StopEvent::Kind::kExited);
  CHECK(stop->exit_code == 0);
  if (!stop || stop->kind != StopEvent::Kind::kExited) process.kill();
}

TEST_CASE("a thread's exec: the leader, a zombie for a moment, comes back with the exec event") {
  // The kernel ends the leader, then gives the exec'ing thread its tid. Polled meanwhile, the
  // zombie leader was dropped, and the exec event, for a tid no longer known, was taken for a
  // new clone's and never reported (thread-execl).
  const std::string source = R"(#include <pthread.h>
#include <unistd.h>
static char* image;
static void* exec_again(void* unused) {
  execl(image, image, "again", (char*)0);
  return unused;
}
int main(int argc, char** argv) {
  if (argc > 1) return 7;
  image = argv[0];
  pthread_t thread;
  pthread_create(&thread, 0, exec_again, 0);
  pause();
})";
  const CProgram program("exec", source);
  auto launched = program.launch();
  auto& process = *launched;
  // Polls as the event loop does on each SIGCHLD, so the zombie moment is seen.
  const auto poll_until_stop = [&process](std::optional<StopEvent> stop) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!stop && std::chrono::steady_clock::now() < deadline) {
      stop = process.handle_wait_events();
    }
    return stop;
  };
  const ThreadAction action{process.pid(), ResumeKind::kContinue, 0};
  auto resumed = process.resume(std::span(&action, 1));
  REQUIRE(resumed.has_value());
  const auto exec = poll_until_stop(*resumed);
  REQUIRE_MESSAGE(exec.has_value(), "the exec was never reported");
  CHECK(exec->kind == StopEvent::Kind::kExec);
  CHECK(exec->tid == process.pid());
  CHECK(process.threads() == std::vector<pid_t>{process.pid()});
  resumed = process.resume(std::span(&action, 1));
  REQUIRE(resumed.has_value());
  const auto end = poll_until_stop(*resumed);
  REQUIRE(end.has_value());
  CHECK(end->kind == StopEvent::Kind::kExited);
  CHECK(end->exit_code == 7);
  if (process.alive()) process.kill();
}
