#include "target/process.hpp"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "target/registers.hpp"
#include "target/terminal.hpp"
#include "x86.hpp"

namespace gostub::target {

namespace {

// "~" and "~user" at the front of a directory, as gdb's `set cwd ~/x` means it (gdbserver's
// gdb_tilde_expand): the first component goes through glob's tilde rules, the rest as it is.
std::string expand_tilde(const std::string& directory) {
  if (!directory.starts_with('~')) return directory;
  const auto slash = directory.find('/');
  const std::string head = directory.substr(0, slash);
  glob_t found{};
  std::string expanded = head;
  if (::glob(head.c_str(), GLOB_TILDE_CHECK | GLOB_NOCHECK, nullptr, &found) == 0 &&
      found.gl_pathc == 1) {
    expanded = found.gl_pathv[0];
  }
  ::globfree(&found);
  return slash == std::string::npos ? expanded : expanded + directory.substr(slash);
}

long ptrace_call(int request, pid_t tid, std::uintptr_t address = 0, std::uintptr_t data = 0) {
  return ::ptrace(static_cast<enum __ptrace_request>(request), tid, address, data);
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// A /proc record that the kernel writes whole in one read (a thread's stat, status, comm):
// open, one read, close, where an ifstream costs a read more and a copy or two.
std::string read_proc_record(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::array<char, 4096> buffer;
  const auto length = ::read(fd, buffer.data(), buffer.size());
  ::close(fd);
  return length > 0 ? std::string(buffer.data(), static_cast<std::size_t>(length)) : std::string();
}

std::vector<pid_t> list_tasks(pid_t pid) {
  std::vector<pid_t> tids;
  const auto path = fmt::format("/proc/{}/task", pid);
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return tids;
  while (const dirent* entry = ::readdir(dir)) {
    const int tid = std::atoi(entry->d_name);
    if (tid > 0) tids.push_back(tid);
  }
  ::closedir(dir);
  return tids;
}

// The thread's tracer (0: none); nullopt when the thread is gone. One cloned by a thread gostub
// seized moments before is traced by gostub from birth, and seizing it again fails with EPERM.
std::optional<pid_t> tracer_of(pid_t pid, pid_t tid) {
  const auto status = read_proc_record(fmt::format("/proc/{}/task/{}/status", pid, tid));
  const auto field = status.find("\nTracerPid:");
  if (field == std::string::npos) return std::nullopt;
  return static_cast<pid_t>(std::atoi(status.c_str() + field + 11));
}

// The program as execv() will find it: a name with a slash is a path; otherwise ./NAME if it
// exists (as gdbserver does), else a search of PATH.
std::optional<std::string> resolve_program(const std::string& name) {
  auto absolute = [](const std::string& path) -> std::optional<std::string> {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) return std::nullopt;
    return std::string(resolved);
  };
  if (name.find('/') != std::string::npos || ::access(name.c_str(), F_OK) == 0) {
    return absolute(name);
  }
  const char* path_variable = std::getenv("PATH");
  std::istringstream directories(path_variable ? path_variable : "/usr/bin:/bin");
  for (std::string directory; std::getline(directories, directory, ':');) {
    const auto candidate = (directory.empty() ? "." : directory) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return absolute(candidate);
  }
  return std::nullopt;
}

// Why a launched child ended before its exec, sent to gostub over a close-on-exec pipe.
struct ChildFailure {
  enum Step : int { kExec, kStdin, kStdout, kStderr, kDirectory } step;
  int error;
};

// gdbserver 13's wording is "Cannot exec PROG: Permission denied." (fork_inferior); the steps
// before exec say which file or directory.
std::string describe(const ChildFailure& failure, const LaunchOptions& options) {
  const char* text = std::strerror(failure.error);
  switch (failure.step) {
    case ChildFailure::kExec:
      return text;
    case ChildFailure::kStdin:
      return fmt::format("cannot open {} for stdin: {}", options.stdin_path, text);
    case ChildFailure::kStdout:
      return fmt::format("cannot open {} for stdout: {}", options.stdout_path, text);
    case ChildFailure::kStderr:
      return fmt::format("cannot open {} for stderr: {}", options.stderr_path, text);
    case ChildFailure::kDirectory:
      return fmt::format("cannot change to directory {}: {}", options.working_directory, text);
  }
  return text;
}

// gostub describes the program to the client as x86-64 (gdb's amd64 register file): a 32-bit
// program (ELFCLASS32, i386 or x32) is refused rather than shown with the wrong registers. A
// file that cannot be read, or is no ELF file, is left for exec to judge.
Result<void> refuse_32_bit(const std::string& path, const std::string& name) {
  unsigned char ident[EI_NIDENT] = {};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  const auto got = ::read(fd, ident, sizeof ident);
  ::close(fd);
  if (got != static_cast<ssize_t>(sizeof ident) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    return {};
  }
  if (ident[EI_CLASS] == ELFCLASS32) {
    return fail(ENOEXEC, fmt::format("Cannot debug {}: it is a 32-bit program; gostub debugs "
                                     "x86-64 (64-bit) programs only.",
                                     name));
  }
  return {};
}

// What execve() would say of `path`, checked before a shell or wrapper stands in the way (they
// would turn it into an exit status): a directory or a file no one may execute is EACCES, a
// file that is neither ELF nor a script ENOEXEC. 0 when exec may go ahead.
int exec_error(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) return errno;
  if (!S_ISREG(status.st_mode) || (status.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0 ||
      ::access(path.c_str(), X_OK) != 0) {
    return EACCES;
  }
  char head[4] = {};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;  // execute-only: exec will tell
  const auto got = ::read(fd, head, sizeof head);
  ::close(fd);
  const bool elf = got == 4 && std::memcmp(head, ELFMAG, SELFMAG) == 0;
  const bool script = got >= 2 && head[0] == '#' && head[1] == '!';
  return elf || script ? 0 : ENOEXEC;
}

// One word for `sh -c`, taken literally: gdbserver 13 escapes the program's arguments too, so
// the program gets them as they were given.
std::string shell_quote(std::string_view word) {
  std::string out = "'";
  for (const char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// What the child execs, and how many execs gostub waits through before the program is the
// one it was asked to run (the shell's and the wrapper's come first).
struct StartupCommand {
  std::string path;  // execv's path; searched in PATH when it has no slash
  std::vector<std::string> argv;
  int execs = 1;
};

StartupCommand startup_command(const LaunchOptions& options, const std::string& program) {
  // The name as the user gave it when it is a path; otherwise the one found (./NAME, PATH).
  const std::string& name =
      options.argv[0].find('/') != std::string::npos ? options.argv[0] : program;
  if (options.startup_with_shell) {
    const char* shell_variable = std::getenv("SHELL");
    std::string shell = !options.shell.empty()                         ? options.shell
                        : shell_variable != nullptr && *shell_variable ? shell_variable
                                                                       : "/bin/sh";
    std::string line = "exec";
    for (const auto& word : options.wrapper) line += " " + shell_quote(word);
    line += " " + shell_quote(name);
    for (std::size_t i = 1; i < options.argv.size(); ++i)
      line += " " + shell_quote(options.argv[i]);
    return {shell, {shell, "-c", line}, options.wrapper.empty() ? 2 : 3};
  }
  if (!options.wrapper.empty()) {
    StartupCommand command{options.wrapper[0], options.wrapper, 2};
    command.argv.push_back(name);
    command.argv.insert(command.argv.end(), options.argv.begin() + 1, options.argv.end());
    return command;
  }
  StartupCommand command{program, options.argv, 1};
  return command;
}

// TRACESYSGOOD: a system call stop (PTRACE_SYSCALL, catch syscall) is SIGTRAP | 0x80.
constexpr long kLaunchOptions =
    PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD;
// Children are traced from birth (not during startup: a shell or wrapper may fork helpers), so
// that none runs with the parent's breakpoints in it.
constexpr long kForkOptions = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEVFORKDONE;
constexpr long kAttachOptions =
    PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | kForkOptions;

// One byte into another process's memory (a held fork child, not our Process).
bool poke_other(pid_t pid, std::uint64_t address, std::uint8_t byte) {
  const int fd = ::open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  const bool written = ::pwrite(fd, &byte, 1, static_cast<off_t>(address)) == 1;
  ::close(fd);
  return written;
}

}  // namespace

Process::Process() : router_(WaitRouter::of_this_thread()) {
  router_.join(*this);
}

bool Process::owns_task(pid_t tid) const {
  return (alive_ && tid == pid_) || threads_.contains(tid) || forks_.held.contains(tid) ||
         forks_.early_stops.contains(tid);
}

Process::~Process() {
  while (!forks_.held.empty()) {
    const pid_t child = forks_.held.begin()->first;
    if (attached_) {
      release_fork_child(child);
    } else {
      kill_fork_child(child);
    }
  }
  if (alive_) {
    if (attached_) {
      (void)detach();
    } else {
      (void)kill();
    }
  }
  if (memory_fd_ >= 0) ::close(memory_fd_);
  router_.leave(*this);
}

Result<std::unique_ptr<Process>> Process::launch(const LaunchOptions& options) {
  if (options.argv.empty()) return fail(EINVAL, "no program to run");
  auto program = resolve_program(options.argv[0]);
  if (program) {
    if (auto refused = refuse_32_bit(*program, options.argv[0]); !refused) {
      return std::unexpected(refused.error());
    }
    if (const int error = exec_error(*program); error != 0) {
      return fail(error, fmt::format("Cannot exec {}: {}.", options.argv[0], std::strerror(error)));
    }
  } else if (!options.startup_with_shell) {
    return fail(ENOENT, fmt::format("Cannot exec {}: {}.", options.argv[0], std::strerror(ENOENT)));
  } else {
    // The shell looks for it and says it is not found, then exits 127: gdbserver's messages
    // ("exec: PROG: not found", "During startup program exited with code 127.").
    program = options.argv[0];
  }
  const auto command = startup_command(options, *program);
  const auto working_directory = expand_tilde(options.working_directory);

  // The child waits on this pipe until it is seized, so that exec is its first traced event.
  int gate[2];
  if (::pipe2(gate, O_CLOEXEC) != 0) return std::unexpected(last_system_error("pipe2"));
  // What failed in the child, if anything: a ChildFailure. Closed by a successful exec.
  int failure_pipe[2];
  if (::pipe2(failure_pipe, O_CLOEXEC) != 0) {
    ::close(gate[0]);
    ::close(gate[1]);
    return std::unexpected(last_system_error("pipe2"));
  }

  std::vector<char*> argv;
  for (const auto& argument : command.argv) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> environment;
  if (options.environment) {
    for (const auto& entry : *options.environment)
      environment.push_back(const_cast<char*>(entry.c_str()));
  }
  environment.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) return std::unexpected(last_system_error("fork"));
  if (pid == 0) {
    ::close(gate[1]);
    ::close(failure_pipe[0]);
    const auto report = [&](ChildFailure::Step step) {
      const ChildFailure failure{step, errno};
      (void)!::write(failure_pipe[1], &failure, sizeof failure);
      ::_exit(127);
    };
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the server blocks SIGCHLD; the program must not
    ::signal(SIGPIPE, SIG_DFL);  // ignored by the server; an ignored signal survives exec
    ::setpgid(0, 0);
    if (options.take_terminal) give_terminal(STDIN_FILENO, ::getpid());
    if (options.stdout_to_stderr) {
      const int null_fd = ::open("/dev/null", O_RDONLY);
      if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
      ::dup2(STDERR_FILENO, STDOUT_FILENO);
      constexpr std::string_view kRedirected = "stdin/stdout redirected\n";  // gdbserver's
      (void)!::write(STDERR_FILENO, kRedirected.data(), kRedirected.size());
    }
    // What the client asked for; a failure ends the child, and launch() reports it.
    const auto redirect = [](const std::string& path, int fd, int flags) {
      if (path.empty()) return true;
      const int opened = ::open(path.c_str(), flags | O_CLOEXEC, 0666);
      return opened >= 0 && ::dup2(opened, fd) >= 0;
    };
    if (!redirect(options.stdin_path, STDIN_FILENO, O_RDONLY)) report(ChildFailure::kStdin);
    if (!redirect(options.stdout_path, STDOUT_FILENO, O_WRONLY | O_CREAT | O_TRUNC)) {
      report(ChildFailure::kStdout);
    }
    if (!redirect(options.stderr_path, STDERR_FILENO, O_WRONLY | O_CREAT | O_TRUNC)) {
      report(ChildFailure::kStderr);
    }
    if (!working_directory.empty() && ::chdir(working_directory.c_str()) != 0) {
      report(ChildFailure::kDirectory);
    }
    if (options.disable_address_randomization) ::personality(ADDR_NO_RANDOMIZE);
    char byte;
    while (::read(gate[0], &byte, 1) < 0 && errno == EINTR) {
    }
    // A wrapper named without a path is looked for in PATH, as the shell would.
    if (options.environment) {
      ::execvpe(command.path.c_str(), argv.data(), environment.data());
    } else {
      ::execvp(command.path.c_str(), argv.data());
    }
    report(ChildFailure::kExec);
  }

  ::close(gate[0]);
  ::close(failure_pipe[1]);
  // The child's own account of its failure (after it ended), in gdbserver's words.
  const auto child_failure = [&, read_end = failure_pipe[0]]() -> std::string {
    ChildFailure failure{};
    ssize_t got;
    while ((got = ::read(read_end, &failure, sizeof failure)) < 0 && errno == EINTR) {
    }
    if (got != static_cast<ssize_t>(sizeof failure)) return "the program did not start";
    return describe(failure, options);
  };
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } close_failure_pipe{failure_pipe[0]};
  ::setpgid(pid, pid);  // also done by the child; whichever runs first wins the race
  std::unique_ptr<Process> process(new Process());
  process->pid_ = pid;
  process->executable_ = *program;
  if (ptrace_call(PTRACE_SEIZE, pid, 0, kLaunchOptions) != 0) {
    auto error = last_system_error("PTRACE_SEIZE");
    ::kill(pid, SIGKILL);
    ::close(gate[1]);
    ::waitpid(pid, nullptr, 0);
    process->alive_ = false;
    return std::unexpected(error);
  }
  ::close(gate[1]);  // let the child exec

  // Through the shell's and the wrapper's execs to the program's; signals meanwhile are theirs.
  for (int execs = 0; execs < command.execs;) {
    int status = 0;
    while (::waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      process->alive_ = false;
      if (execs == 0) {
        return fail(ENOEXEC, fmt::format("Cannot exec {}: {}.", options.argv[0], child_failure()));
      }
      // gdbserver's words when the shell or the wrapper gives up.
      if (WIFEXITED(status)) {
        return fail(ENOEXEC, fmt::format("During startup program exited with code {}.",
                                         WEXITSTATUS(status)));
      }
      return fail(ENOEXEC, fmt::format("During startup program terminated with signal {}.",
                                       ::sigabbrev_np(WTERMSIG(status))
                                           ? fmt::format("SIG{}", ::sigabbrev_np(WTERMSIG(status)))
                                           : std::to_string(WTERMSIG(status))));
    }
    if (!WIFSTOPPED(status)) continue;
    const int event = status >> 16;
    int signal = 0;
    if (event == PTRACE_EVENT_EXEC) {
      if (++execs == command.execs) break;
    } else if (event == 0) {
      signal = WSTOPSIG(status);  // a signal to the shell or wrapper: delivered
    }
    ptrace_call(PTRACE_CONT, pid, 0, static_cast<std::uintptr_t>(signal));
  }
  ptrace_call(PTRACE_SETOPTIONS, pid, 0, kLaunchOptions | kForkOptions);
  process->add_thread(pid);
  process->memory_fd_ = ::open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDWR | O_CLOEXEC);
  // What actually runs (a script's interpreter, say) may be a 32-bit program.
  if (auto refused = refuse_32_bit(fmt::format("/proc/{}/exe", pid), options.argv[0]); !refused) {
    (void)process->kill();
    return std::unexpected(refused.error());
  }
  return process;
}

Result<std::unique_ptr<Process>> Process::attach(pid_t pid) {
  if (pid <= 0) return fail(EINVAL, fmt::format("Cannot attach to process {}: bad pid", pid));
  std::unique_ptr<Process> process(new Process());
  process->pid_ = pid;
  process->attached_ = true;
  process->alive_ = false;  // until the first thread is seized
  if (auto seized = process->seize_all_threads(); !seized) return std::unexpected(seized.error());
  process->alive_ = true;
  char exe[PATH_MAX];
  const auto length = ::readlink(fmt::format("/proc/{}/exe", pid).c_str(), exe, sizeof exe - 1);
  if (length > 0) process->executable_.assign(exe, static_cast<std::size_t>(length));
  process->memory_fd_ = ::open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDWR | O_CLOEXEC);
  if (auto refused =
          refuse_32_bit(fmt::format("/proc/{}/exe", pid), fmt::format("process {}", pid));
      !refused) {
    for (const auto& [tid, thread] : process->threads_) ptrace_call(PTRACE_DETACH, tid);
    process->threads_.clear();
    process->alive_ = false;
    return std::unexpected(refused.error());
  }
  for (auto& [tid, thread] : process->threads_) {
    ptrace_call(PTRACE_INTERRUPT, tid);
    thread.running = true;
  }
  process->stop_all_threads();
  if (process->exit_event_)
    return fail(ESRCH, fmt::format("process {} exited while attaching", pid));
  return process;
}

Result<void> Process::seize_all_threads() {
  // Threads may be created while we seize; those cloned by an already seized thread are traced
  // from birth, the others show up in the next scan.
  bool found_new = true;
  while (found_new) {
    found_new = false;
    for (const pid_t tid : list_tasks(pid_)) {
      if (threads_.contains(tid)) continue;
      if (ptrace_call(PTRACE_SEIZE, tid, 0, kAttachOptions) != 0) {
        const int seize_error = errno;
        if (seize_error == ESRCH && tid != pid_) continue;  // exited meanwhile
        if (seize_error == EPERM && tid != pid_) {
          const auto tracer = tracer_of(pid_, tid);
          if (!tracer) continue;  // exited meanwhile
          if (*tracer == ::getpid()) {
            // Traced from birth: its first stop comes as a seized thread's would.
            add_thread(tid);
            found_new = true;
            continue;
          }
        }
        errno = seize_error;  // reading /proc may have changed it
        auto error = last_system_error(fmt::format("Cannot attach to process {}", pid_));
        for (const auto& [seized, unused] : threads_) ptrace_call(PTRACE_DETACH, seized);
        threads_.clear();
        return std::unexpected(error);
      }
      add_thread(tid);
      found_new = true;
    }
  }
  if (threads_.empty())
    return fail(ESRCH, fmt::format("Cannot attach to process {}: No such process", pid_));
  return {};
}

std::optional<WaitStatus> Process::on_clone_event(pid_t parent) {
  unsigned long new_tid = 0;
  ptrace_call(PTRACE_GETEVENTMSG, parent, 0, reinterpret_cast<std::uintptr_t>(&new_tid));
  const auto child = static_cast<pid_t>(new_tid);
  // waitpid(-1) does not hand out statuses in the order they happened: the clone may have
  // been seen already, and may even have run and exited since. Added again, it would be
  // waited for forever.
  if (clones_seen_first_.erase(child) != 0) return std::nullopt;
  std::optional<WaitStatus> first;
  if (const auto early = forks_.early_stops.find(child); early != forks_.early_stops.end()) {
    first = WaitStatus{child, early->second};
    forks_.early_stops.erase(early);
  }
  if (!threads_.contains(child)) add_thread(child).awaiting_first_stop = true;
  return first;
}

Process::Thread& Process::add_thread(pid_t tid) {
  auto& thread = threads_[tid];
  thread.order = next_order_++;
  return thread;
}

bool Process::running() const {
  for (const auto& [tid, thread] : threads_) {
    if (thread.running) return true;
  }
  return false;
}

std::vector<pid_t> Process::threads() const {
  std::vector<std::pair<std::uint64_t, pid_t>> ordered;
  for (const auto& [tid, thread] : threads_) ordered.emplace_back(thread.order, tid);
  std::sort(ordered.begin(), ordered.end());
  std::vector<pid_t> tids;
  for (const auto& [order, tid] : ordered) tids.push_back(tid);
  return tids;
}

std::string Process::thread_name(pid_t tid) const {
  // Under /proc/PID/task, as gdbserver: a clone without CLONE_THREAD (no task of PID's) has
  // no name there, and gdb's tests expect none.
  auto name = read_proc_record(fmt::format("/proc/{}/task/{}/comm", pid_, tid));
  while (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

int Process::thread_core(pid_t tid) const {
  const auto stat = read_proc_record(fmt::format("/proc/{}/task/{}/stat", pid_, tid));
  const auto name_end = stat.rfind(')');
  if (name_end == std::string::npos) return -1;
  std::istringstream fields(stat.substr(name_end + 2));
  std::string field;
  constexpr int kProcessorField = 39 - 3;  // proc(5) field 39, counted from field 3 (state)
  for (int i = 0; i <= kProcessorField; ++i) {
    if (!(fields >> field)) return -1;
  }
  return std::atoi(field.c_str());
}

Result<std::string> Process::auxv() const {
  if (!alive_) return fail(ESRCH, "the process has exited");
  return read_text_file(fmt::format("/proc/{}/auxv", pid_));
}

Result<std::vector<MemoryRegion>> Process::memory_regions() const {
  if (!alive_) return fail(ESRCH, "the process has exited");
  std::istringstream maps(read_text_file(fmt::format("/proc/{}/maps", pid_)));
  std::vector<MemoryRegion> regions;
  for (std::string line; std::getline(maps, line);) {
    // start-end perms offset dev inode [name]
    std::istringstream fields(line);
    std::string range, permissions, offset, device, inode;
    fields >> range >> permissions >> offset >> device >> inode;
    const auto dash = range.find('-');
    if (dash == std::string::npos || permissions.size() < 3) continue;
    MemoryRegion region{std::stoull(range.substr(0, dash), nullptr, 16),
                        std::stoull(range.substr(dash + 1), nullptr, 16),
                        permissions[0] == 'r',
                        permissions[1] == 'w',
                        permissions[2] == 'x',
                        {}};
    std::getline(fields >> std::ws, region.name);
    regions.push_back(std::move(region));
  }
  return regions;
}

Result<ProcessFacts> Process::facts() const {
  if (!alive_) return fail(ESRCH, "the process has exited");
  ProcessFacts facts;
  std::istringstream status(read_text_file(fmt::format("/proc/{}/status", pid_)));
  for (std::string line; std::getline(status, line);) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "PPid:") fields >> facts.parent_pid;
    if (key == "Uid:") fields >> facts.real_uid >> facts.effective_uid;
    if (key == "Gid:") fields >> facts.real_gid >> facts.effective_gid;
  }
  char cwd[PATH_MAX];
  const auto length = ::readlink(fmt::format("/proc/{}/cwd", pid_).c_str(), cwd, sizeof cwd - 1);
  if (length > 0) facts.working_directory.assign(cwd, static_cast<std::size_t>(length));
  return facts;
}

namespace {

// The thread's whole XSAVE area (NT_X86_XSTATE), as long as the kernel's.
Result<std::string> read_xsave(pid_t tid) {
  const auto& layout = host_xsave_layout();
  std::string area(std::max<std::size_t>(layout.size, 4096), '\0');
  iovec vector{area.data(), area.size()};
  if (ptrace_call(PTRACE_GETREGSET, tid, NT_X86_XSTATE,
                  reinterpret_cast<std::uintptr_t>(&vector)) != 0) {
    return std::unexpected(last_system_error("PTRACE_GETREGSET NT_X86_XSTATE"));
  }
  area.resize(vector.iov_len);
  return area;
}

}  // namespace

Result<user_regs_struct> Process::general_registers(pid_t tid) const {
  const auto found = threads_.find(tid);
  if (found == threads_.end()) return fail(ESRCH, fmt::format("no thread {}", tid));
  auto& cached = found->second.general;
  if (!cached) {
    user_regs_struct general{};
    if (ptrace_call(PTRACE_GETREGS, tid, 0, reinterpret_cast<std::uintptr_t>(&general)) != 0) {
      return std::unexpected(last_system_error("PTRACE_GETREGS"));
    }
    cached = general;
  }
  return *cached;
}

void Process::forget_registers(pid_t tid) {
  if (const auto found = threads_.find(tid); found != threads_.end()) {
    found->second.general.reset();
  }
}

Result<std::string> Process::read_registers(pid_t tid) const {
  const auto general = general_registers(tid);
  if (!general) return std::unexpected(general.error());
  if (const auto& layout = host_xsave_layout(); layout.xsave) {
    auto xsave = read_xsave(tid);
    if (!xsave) return std::unexpected(xsave.error());
    return to_register_file(*general, *xsave, layout);
  }
  user_fpregs_struct fp{};
  if (ptrace_call(PTRACE_GETFPREGS, tid, 0, reinterpret_cast<std::uintptr_t>(&fp)) != 0) {
    return std::unexpected(last_system_error("PTRACE_GETFPREGS"));
  }
  return to_register_file(*general, fp);
}

Result<std::string> Process::read_general_registers(pid_t tid) const {
  const auto general = general_registers(tid);
  if (!general) return std::unexpected(general.error());
  return to_register_file(*general, user_fpregs_struct{});
}

Result<void> Process::write_registers(pid_t tid, std::string_view file) {
  if (!threads_.contains(tid)) return fail(ESRCH, fmt::format("no thread {}", tid));
  if (file.size() != register_file_size()) return fail(EINVAL, "register data has the wrong size");
  forget_registers(tid);
  user_regs_struct general{};
  // Start from the current values so that fields gdb does not describe (padding, mxcsr_mask,
  // components of the XSAVE area it does not show) keep theirs.
  if (const auto& layout = host_xsave_layout(); layout.xsave) {
    auto xsave = read_xsave(tid);
    if (!xsave) return std::unexpected(xsave.error());
    from_register_file(file, general, *xsave, layout);
    if (ptrace_call(PTRACE_SETREGS, tid, 0, reinterpret_cast<std::uintptr_t>(&general)) != 0) {
      return std::unexpected(last_system_error("PTRACE_SETREGS"));
    }
    iovec vector{xsave->data(), xsave->size()};
    if (ptrace_call(PTRACE_SETREGSET, tid, NT_X86_XSTATE,
                    reinterpret_cast<std::uintptr_t>(&vector)) != 0) {
      return std::unexpected(last_system_error("PTRACE_SETREGSET NT_X86_XSTATE"));
    }
    return {};
  }
  user_fpregs_struct fp{};
  if (ptrace_call(PTRACE_GETFPREGS, tid, 0, reinterpret_cast<std::uintptr_t>(&fp)) != 0) {
    return std::unexpected(last_system_error("PTRACE_GETFPREGS"));
  }
  from_register_file(file, general, fp);
  if (ptrace_call(PTRACE_SETREGS, tid, 0, reinterpret_cast<std::uintptr_t>(&general)) != 0) {
    return std::unexpected(last_system_error("PTRACE_SETREGS"));
  }
  if (ptrace_call(PTRACE_SETFPREGS, tid, 0, reinterpret_cast<std::uintptr_t>(&fp)) != 0) {
    return std::unexpected(last_system_error("PTRACE_SETFPREGS"));
  }
  return {};
}

Result<std::uint64_t> Process::read_pc(pid_t tid) const {
  const auto general = general_registers(tid);
  if (!general) return std::unexpected(general.error());
  return general->rip;
}

Result<void> Process::write_pc(pid_t tid, std::uint64_t pc) {
  forget_registers(tid);
  if (ptrace_call(PTRACE_POKEUSER, tid, offsetof(user_regs_struct, rip), pc) != 0) {
    return std::unexpected(last_system_error("PTRACE_POKEUSER"));
  }
  return {};
}

std::optional<StopEvent> Process::on_wait_status(pid_t tid, int status, bool stopping_all) {
  if (WIFEXITED(status) || WIFSIGNALED(status)) {
    if (forks_.held.erase(tid) != 0) return std::nullopt;  // a held fork child was killed
    if (tid == pid_) {
      // The leader's status comes after every other thread's: the whole process is gone.
      if (WIFEXITED(status))
        return StopEvent{StopEvent::Kind::kExited, tid, 0, WEXITSTATUS(status)};
      return StopEvent{StopEvent::Kind::kTerminated, tid, WTERMSIG(status), 0};
    }
    const bool known = threads_.erase(tid) != 0;
    debug_registers_.forget(tid);
    if (known && reporting_.thread_events && !stopping_all) {
      return StopEvent{StopEvent::Kind::kThreadExited, tid, 0,
                       WIFEXITED(status) ? WEXITSTATUS(status) : 0};
    }
    return std::nullopt;
  }
  if (!WIFSTOPPED(status)) return std::nullopt;

  if (forks_.held.contains(tid)) return std::nullopt;  // held stopped for the client
  auto found = threads_.find(tid);
  if (found == threads_.end() && task_group_and_parent(tid).first != pid_) {
    // A fork child's first stop (or a clone's without CLONE_THREAD), before its parent's
    // event: on_fork or on_clone_event takes it from here.
    forks_.early_stops.insert_or_assign(tid, status);
    return std::nullopt;
  }
  if (found == threads_.end() && tid == pid_) {
    // The leader, dropped while a zombie, is back: that was another thread's exec (the kernel
    // ends the leader, then gives the exec'ing thread its tid), and this is its exec event.
    // gdbserver's filter_event takes it back the same way.
    add_thread(tid);
    found = threads_.find(tid);
  } else if (found == threads_.end()) {
    // A new clone can report its first stop before its parent reports the clone event.
    add_thread(tid).awaiting_first_stop = true;
    clones_seen_first_.insert(tid);
    found = threads_.find(tid);
  }
  Thread& thread = found->second;
  const bool was_running = thread.running;
  thread.running = false;
  thread.general.reset();
  const int event = status >> 16;
  thread.in_signal_delivery_stop = event == 0 && WSTOPSIG(status) != (SIGTRAP | 0x80);

  if (thread.awaiting_first_stop && event == PTRACE_EVENT_STOP) {
    thread.awaiting_first_stop = false;
    // New threads join the run when the process is running (all-stop: all or none; non-stop:
    // always, as gdb counts a new thread running even when its first stop comes after every
    // other thread stopped), unless the client asked to hear of them: then the new thread's
    // stop is reported.
    if (!stopping_all && (non_stop_ || running())) {
      if (reporting_.thread_events) return StopEvent{StopEvent::Kind::kThreadCreated, tid, SIGTRAP};
      resume_thread(tid, thread, ResumeKind::kContinue, 0);
    }
    return std::nullopt;
  }

  switch (event) {
    case PTRACE_EVENT_CLONE: {
      const auto early = on_clone_event(tid);
      if (!stopping_all) {
        resume_thread(tid, thread, thread.stepping ? ResumeKind::kStep : ResumeKind::kContinue, 0);
      }
      if (early) return on_wait_status(early->tid, early->status, stopping_all);
      return std::nullopt;
    }
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK: {
      auto stop = on_fork(tid, event == PTRACE_EVENT_VFORK);
      if (stop && stopping_all) {
        thread.pending = stop;
        return std::nullopt;
      }
      if (!stop && !stopping_all) {
        resume_thread(tid, thread, thread.stepping ? ResumeKind::kStep : ResumeKind::kContinue, 0);
      }
      return stop;
    }
    case PTRACE_EVENT_VFORK_DONE: {
      if (!forks_.report_vfork) {
        if (!stopping_all) {
          resume_thread(tid, thread, thread.stepping ? ResumeKind::kStep : ResumeKind::kContinue,
                        0);
        }
        return std::nullopt;
      }
      StopEvent stop{StopEvent::Kind::kVforkDone, tid, SIGTRAP, 0};
      if (stopping_all) {
        thread.pending = stop;
        return std::nullopt;
      }
      return stop;
    }
    case PTRACE_EVENT_EXEC: {
      // The program replaced itself: its other threads and our breakpoints are gone.
      std::erase_if(threads_, [this](const auto& entry) { return entry.first != pid_; });
      if (!threads_.contains(pid_)) add_thread(pid_);
      breakpoints_.clear();
      displaced_.reset();             // the scratch area went with the old address space
      debug_registers_.forget_all();  // exec drops a thread's debug registers
      // /proc/PID/mem opened before the exec is the old address space's: reads and writes
      // through it fail (EIO), so breakpoints in the new program could not be inserted.
      if (memory_fd_ >= 0) ::close(memory_fd_);
      memory_fd_ = ::open(fmt::format("/proc/{}/mem", pid_).c_str(), O_RDWR | O_CLOEXEC);
      char exe[PATH_MAX];
      const auto length =
          ::readlink(fmt::format("/proc/{}/exe", pid_).c_str(), exe, sizeof exe - 1);
      if (length > 0) executable_.assign(exe, static_cast<std::size_t>(length));
      StopEvent stop{StopEvent::Kind::kExec, pid_, SIGTRAP, 0};
      if (stopping_all) {
        threads_[pid_].pending = stop;
        return std::nullopt;
      }
      return stop;
    }
    case PTRACE_EVENT_STOP:
      if (stopping_all) {
        if (auto hit = queued_breakpoint_hit(tid, thread)) {
          thread.pending = hit;
        } else if (thread.stepping && sigtrap_queued(tid)) {
          thread.drop_queued_step_trap = true;
        }
        return std::nullopt;
      }
      if (thread.stop_requested) {
        // Non-stop: the stop the client asked for, or a breakpoint hit still queued (that one;
        // the request stands until next_non_stop_event has seen whether the hit is passed).
        if (auto hit = queued_breakpoint_hit(tid, thread)) return hit;
        thread.stop_requested = false;
        thread.stepping = false;
        thread.range_start = thread.range_end = 0;
        return StopEvent::requested_stop(tid);
      }
      // Stopping all: this is the stop we asked for (or a job-control stop, treated alike).
      // Otherwise it is an interrupt that was requested while the thread was reporting
      // something else, delivered now: the thread was meant to run on.
      if (!stopping_all && was_running) {
        resume_thread(tid, thread, thread.stepping ? ResumeKind::kStep : ResumeKind::kContinue, 0);
      }
      return std::nullopt;
    case 0: {
      if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
        auto stop = on_syscall_stop(tid, thread);
        if (stop && stopping_all) {
          thread.pending = stop;
          return std::nullopt;
        }
        if (!stop && !stopping_all) resume_thread(tid, thread, ResumeKind::kContinue, 0);
        return stop;
      }
      if (thread.sent_signal != 0 && thread.sent_signal == WSTOPSIG(status)) {
        // The client's signal, sent by resume_thread: delivered, as the resume meant (with the
        // step, or the next continue when every thread is being stopped).
        thread.sent_signal = 0;
        if (stopping_all) {
          thread.held_signals.push_back(WSTOPSIG(status));
        } else {
          resume_thread(tid, thread, thread.stepping ? ResumeKind::kStep : ResumeKind::kContinue,
                        WSTOPSIG(status));
        }
        return std::nullopt;
      }
      auto stop = on_signal_stop(tid, thread, WSTOPSIG(status));
      if (stop && stopping_all) {
        thread.pending = stop;
        return std::nullopt;
      }
      if (!stop && !stopping_all && !thread.running) {
        // A passed signal: deliver it now (or after the step, which goes on), unless it was
        // discarded.
        const bool stepping = thread.stepping;
        const bool held =
            !thread.held_signals.empty() && thread.held_signals.back() == WSTOPSIG(status);
        const int signal = stepping || !held ? 0 : thread.held_signals.back();
        if (!stepping && held) thread.held_signals.pop_back();
        resume_thread(tid, thread, stepping ? ResumeKind::kStep : ResumeKind::kContinue, signal);
      }
      return stop;
    }
    default:
      if (!stopping_all) resume_thread(tid, thread, ResumeKind::kContinue, 0);
      return std::nullopt;
  }
}

// The kernel reports a requested stop before it dequeues signals: a thread that has just run
// into one of our int3s can stop for PTRACE_INTERRUPT with the SIGTRAP still queued and its pc
// one past the breakpoint. That is the hit: the pc is rewound now (the client may remove the
// breakpoint before the SIGTRAP would be seen, and the thread would run on mid-instruction).
std::optional<StopEvent> Process::queued_breakpoint_hit(pid_t tid, Thread& thread) {
  // The pc first (one GETREGS, which the stop's other readers share); the pending signals
  // (/proc, three system calls) only for a thread just past one of our breakpoints.
  const auto pc = read_pc(tid);
  if (!pc || !breakpoints_.contains(*pc - 1)) return std::nullopt;
  if (!sigtrap_queued(tid)) return std::nullopt;
  if (!write_pc(tid, *pc - 1)) return std::nullopt;
  thread.drop_queued_trap = true;
  thread.stepping = false;
  thread.range_start = thread.range_end = 0;
  return StopEvent{StopEvent::Kind::kBreakpoint, tid, SIGTRAP, 0};
}

bool Process::sigtrap_queued(pid_t tid) const {
  const auto status = read_proc_record(fmt::format("/proc/{}/task/{}/status", pid_, tid));
  const auto field = status.find("\nSigPnd:");
  if (field == std::string::npos) return false;
  const auto pending = std::strtoull(status.c_str() + field + 8, nullptr, 16);
  return (pending & (1ULL << (SIGTRAP - 1))) != 0;
}

// Decides what a signal-delivery stop means. A signal to pass is queued on the thread's
// held_signals (the caller delivers it) and nothing is returned.
std::optional<StopEvent> Process::on_signal_stop(pid_t tid, Thread& thread, int signal) {
  const bool was_stepping = thread.stepping;
  StopEvent stop{StopEvent::Kind::kSignal, tid, signal, 0};
  if (signal == SIGTRAP) {
    siginfo_t info{};
    ptrace_call(PTRACE_GETSIGINFO, tid, 0, reinterpret_cast<std::uintptr_t>(&info));
    const bool drop = std::exchange(thread.drop_queued_trap, false);
    if (drop && (info.si_code == SI_KERNEL || info.si_code == TRAP_BRKPT)) {
      return std::nullopt;  // the hit queued_breakpoint_hit took already: not delivered
    }
    // A debug register: TRAP_HWBKPT, or TRAP_TRACE when a single-step also triggered it (the
    // kernel names the step first; DR6 says both).
    if (info.si_code == TRAP_HWBKPT || info.si_code == TRAP_TRACE) {
      if (auto hit = debug_registers_.take_hit(tid)) {
        stop.hardware = hit;
        thread.stepping = false;
        thread.range_start = thread.range_end = 0;
        return stop;
      }
    }
    // A step's trap that comes after the client gave up on the step (another thread's stop
    // came first; the client continues this one now): no reason to stop, as for gdbserver.
    if (info.si_code == TRAP_TRACE &&
        (std::exchange(thread.drop_queued_step_trap, false) || !was_stepping)) {
      return std::nullopt;
    }
    bool stepped = was_stepping && info.si_code == TRAP_TRACE;
    if (info.si_code == SI_KERNEL || info.si_code == TRAP_BRKPT) {
      // int3: the pc is one past it. Ours is rewound, so the client sees the breakpoint address.
      if (const auto pc = read_pc(tid); pc && breakpoints_.contains(*pc - 1)) {
        (void)write_pc(tid, *pc - 1);
        stop.kind = StopEvent::Kind::kBreakpoint;
      } else {
        // Linux/x86 reports a single-step over `syscall` as TRAP_BRKPT, not TRAP_TRACE
        // (user_single_step_report()): the step is done all the same.
        stepped = was_stepping && info.si_code == TRAP_BRKPT;
      }
    }
    if (stepped) {
      if (thread.range_end > thread.range_start) {
        // Range stepping: still inside the range, the step goes on unreported.
        if (const auto pc = read_pc(tid);
            pc && *pc >= thread.range_start && *pc < thread.range_end) {
          return std::nullopt;
        }
      }
      stop.kind = StopEvent::Kind::kStepDone;
    }
  } else if (pass_signals_.contains(signal) &&
             (!was_stepping || held_while_stepping_.contains(signal)) &&
             !breakpoint_fault(tid, signal)) {
    // Not reported; delivered later unless the program may not have it.
    if (!program_signals_ || program_signals_->contains(signal))
      thread.held_signals.push_back(signal);
    return std::nullopt;
  }
  thread.stepping = false;
  thread.range_start = thread.range_end = 0;
  return stop;
}

bool Process::breakpoint_fault(pid_t tid, int signal) {
  // An int3 the client put where code cannot run (gdb's call dummy on the stack, which is not
  // executable) faults instead of trapping: the client's breakpoint, told whatever the pass
  // list says, as gdbserver does (gdb takes a SIGSEGV or SIGILL at its breakpoint for a hit).
  if (signal != SIGSEGV && signal != SIGILL) return false;
  const auto pc = read_pc(tid);
  return pc && breakpoints_.contains(*pc);
}

void Process::resume_thread(pid_t tid, Thread& thread, ResumeKind kind, int signal) {
  if (signal == 0 && !thread.held_signals.empty() && kind == ResumeKind::kContinue) {
    signal = thread.held_signals.front();
    thread.held_signals.erase(thread.held_signals.begin());
  }
  if (signal != 0 && !thread.in_signal_delivery_stop) {
    // Only a signal-delivery stop can deliver a signal: elsewhere (stopped by our interrupt,
    // at an event) ptrace drops it without a word. Sent, it is delivered at its own stop.
    // Not SIGSTOP: the attach stop is told as one (gdbserver's PTRACE_ATTACH stop is), and gdb
    // passes it back; sent, it would stop the whole program, which nothing then resumes.
    if (signal != SIGSTOP) {
      thread.sent_signal = signal;
      ::syscall(SYS_tgkill, pid_, tid, signal);
    }
    signal = 0;
  }
  thread.in_signal_delivery_stop = false;
  // New threads, and all after a Z1-Z4, get the debug registers here. A failure leaves the
  // thread's as they were: the insert already checked the values on the threads it had.
  (void)debug_registers_.sync(tid);
  thread.general.reset();
  const int request = kind == ResumeKind::kStep ? PTRACE_SINGLESTEP
                      : catch_syscalls_         ? PTRACE_SYSCALL
                                                : PTRACE_CONT;
  // On failure (ESRCH) the thread is dying: its exit status is still to be reaped.
  ptrace_call(request, tid, 0, static_cast<std::uintptr_t>(signal));
  thread.running = true;
  thread.stepping = kind == ResumeKind::kStep;
  thread.continuing = kind == ResumeKind::kContinue;
  reporting_.stop_owed = true;
}

bool Process::settled() const {
  return std::none_of(threads_.begin(), threads_.end(), [](const auto& entry) {
    return entry.second.running || entry.second.awaiting_first_stop;
  });
}

void Process::stop_all_threads() {
  for (auto& [tid, thread] : threads_) {
    if (thread.running) ptrace_call(PTRACE_INTERRUPT, tid);
  }
  // Wait for any thread, not a given one: the leader's exit is only reported after every other
  // thread has been reaped, so waiting on one tid could wait forever. While the leader runs it
  // may end meanwhile and never stop: no wait reports that, only a SIGCHLD, so the wait is
  // for SIGCHLD, each wake-up checking for a zombie leader.
  bool took_child_signal = false;
  while (alive_ && !settled()) {
    const auto leader = threads_.find(pid_);
    const bool leader_runs = leader != threads_.end() && leader->second.running;
    const auto waited =
        router_.next(*this, leader_runs ? WaitRouter::Block::kNo : WaitRouter::Block::kYes);
    if (!waited && leader_runs) {
      if (forget_zombie_leader()) continue;
      if (::kill(pid_, 0) != 0 && errno == ESRCH) {
        on_process_gone(StopEvent{StopEvent::Kind::kTerminated, pid_, SIGKILL, 0});
        break;
      }
      sigset_t child;
      sigemptyset(&child);
      sigaddset(&child, SIGCHLD);
      constexpr timespec kRecheck{0, 50'000'000};  // a SIGCHLD lost to another waiter
      took_child_signal |= ::sigtimedwait(&child, nullptr, &kRecheck) == SIGCHLD;
      continue;
    }
    if (!waited) {
      on_process_gone(StopEvent{StopEvent::Kind::kTerminated, pid_, SIGKILL, 0});
      break;
    }
    if (auto gone = on_wait_status(waited->tid, waited->status, true)) {
      on_process_gone(*gone);
      break;
    }
  }
  // The event loop reads SIGCHLD too (a signalfd): a status of another program that came with
  // a signal taken here must still wake it.
  if (took_child_signal) ::syscall(SYS_tgkill, ::getpid(), ::gettid(), SIGCHLD);
  reporting_.stop_owed = false;  // stopped: the caller reports what it stopped for
}

bool Process::forget_zombie_leader() {
  const auto leader = threads_.find(pid_);
  if (leader == threads_.end() || threads_.size() == 1) return false;
  // /proc/PID/stat: "PID (COMM) STATE ..."; COMM may hold anything but the last ')'.
  const auto stat = read_proc_record(fmt::format("/proc/{}/stat", pid_));
  const auto name_end = stat.rfind(')');
  if (name_end == std::string::npos || name_end + 2 >= stat.size()) return false;
  if (stat[name_end + 2] != 'Z') return false;
  debug_registers_.forget(pid_);
  threads_.erase(leader);
  return true;
}

void Process::on_process_gone(const StopEvent& event) {
  exit_event_ = event;
  alive_ = false;
  threads_.clear();
  breakpoints_.clear();
}

std::optional<StopEvent> Process::handle_wait_events() {
  if (non_stop_) return next_non_stop_event();
  for (;;) {
    const auto waited = router_.next(*this, WaitRouter::Block::kNo);
    if (!waited) {
      // A SIGCHLD without a status: the leader may have ended before the other threads.
      (void)forget_zombie_leader();
      if (alive_ && reporting_.stop_owed && settled()) {
        reporting_.stop_owed = false;
        return StopEvent{StopEvent::Kind::kNoResumed, pid_, 0, 0};
      }
      return std::nullopt;
    }
    auto stop = on_wait_status(waited->tid, waited->status, false);
    if (!stop) continue;
    if (stop->kind == StopEvent::Kind::kBreakpoint && hit_filter_) {
      if (const auto pc = read_pc(stop->tid); pc && hit_filter_(stop->tid, *pc)) {
        if (pass_in_place(stop->tid, *pc)) continue;
        stop->passed = true;
      }
    }
    if (stop->kind == StopEvent::Kind::kExited || stop->kind == StopEvent::Kind::kTerminated) {
      on_process_gone(*stop);
      exit_event_.reset();
      return stop;
    }
    stop_all_threads();
    if (exit_event_) {  // the process ended while the others were being stopped
      auto gone = *exit_event_;
      exit_event_.reset();
      return gone;
    }
    leave_scratch_area(stop->tid);
    return report(*stop);
  }
}

bool Process::at_reported_breakpoint(pid_t tid, const std::optional<std::uint64_t>& reported) {
  if (!reported || !breakpoints_.contains(*reported)) return false;
  const auto pc = read_pc(tid);
  return pc && *pc == *reported;
}

StopEvent Process::report(const StopEvent& stop) {
  reporting_.stop_owed = false;
  if (stop.kind == StopEvent::Kind::kBreakpoint) {
    if (auto found = threads_.find(stop.tid); found != threads_.end()) {
      if (const auto pc = read_pc(stop.tid)) {
        found->second.reported_breakpoint = *pc;
        // A hardware breakpoint kept as an int3 is told as the hardware hit the client set.
        if (has_breakpoint(*pc, BreakpointOwner::kHardware) &&
            !has_breakpoint(*pc, BreakpointOwner::kClient)) {
          auto hardware = stop;
          hardware.hardware = HardwareHit{HardwareKind::kExecute, 0, *pc};
          return hardware;
        }
      }
    }
  }
  return stop;
}

std::optional<StopEvent> Process::interrupt_all() {
  if (!alive_ || !running()) return std::nullopt;
  stop_all_threads();
  if (exit_event_) {
    auto gone = *exit_event_;
    exit_event_.reset();
    return gone;
  }
  leave_scratch_area(0);
  const auto tids = threads();
  return StopEvent{StopEvent::Kind::kInterrupt, tids.empty() ? pid_ : tids.front(), 0, 0};
}

bool Process::thread_running(pid_t tid) const {
  const auto found = threads_.find(tid);
  return found != threads_.end() && found->second.running;
}

void Process::request_stop(std::span<const pid_t> tids) {
  for (const pid_t tid : tids) {
    auto found = threads_.find(tid);
    if (found == threads_.end() || !found->second.running || found->second.stop_requested) {
      continue;
    }
    // On failure (ESRCH) the thread is exiting: its exit is reaped as usual.
    if (ptrace_call(PTRACE_INTERRUPT, tid) == 0) found->second.stop_requested = true;
  }
}

std::optional<StopEvent> Process::next_non_stop_event() {
  // Threads that hit a passed breakpoint in a loop never leave the kernel's queue empty: after
  // this many statuses the owner's event loop gets a turn (the client's packets) and comes back.
  constexpr int kStatusesPerCall = 64;
  yielded_ = false;
  for (int statuses = 0;; ++statuses) {
    if (statuses == kStatusesPerCall) {
      yielded_ = true;
      return std::nullopt;
    }
    if (!ready_.empty()) {
      auto stop = ready_.front();
      ready_.pop_front();
      if (stop.kind == StopEvent::Kind::kExited || stop.kind == StopEvent::Kind::kTerminated) {
        ready_.clear();
        return stop;
      }
      if (!threads_.contains(stop.tid)) continue;
      return report(stop);
    }
    if (!alive_) return std::nullopt;
    const auto waited = router_.next(*this, WaitRouter::Block::kNo);
    if (!waited) return std::nullopt;
    const bool thread_exited =
        waited->tid != pid_ && (WIFEXITED(waited->status) || WIFSIGNALED(waited->status));
    auto stop = on_wait_status(waited->tid, waited->status, false);
    if (!stop) {
      // The last running thread ended unseen (no thread events): nothing runs now and nothing
      // will stop until the client resumes a thread, which gdb learns from "no resumed" (N).
      if (thread_exited && alive_ && ready_.empty() && settled()) {
        return StopEvent{StopEvent::Kind::kNoResumed, pid_, 0, 0};
      }
      continue;
    }
    if (stop->kind == StopEvent::Kind::kExited || stop->kind == StopEvent::Kind::kTerminated) {
      on_process_gone(*stop);
      exit_event_.reset();
      ready_.clear();
      return stop;
    }
    auto found = threads_.find(stop->tid);
    if (stop->kind == StopEvent::Kind::kBreakpoint && hit_filter_ && found != threads_.end() &&
        found->second.continuing) {
      if (const auto pc = read_pc(stop->tid); pc && hit_filter_(stop->tid, *pc)) {
        if (found->second.stop_requested) {
          // The client asked this thread to stop: it stops here, at the breakpoint, as a stop
          // with no signal (it meets the breakpoint again when resumed). An interrupt still on
          // its way is dropped as stale later.
          found->second.stop_requested = false;
          return report(StopEvent::requested_stop(stop->tid));
        }
        if (!pass_in_place(stop->tid, *pc)) pass_stopping_others(stop->tid, *pc);
        continue;
      }
    }
    // Whatever it stopped for answers a stop the client asked for (the interrupt, still on its
    // way, is dropped as stale when the thread runs again).
    if (found != threads_.end()) found->second.stop_requested = false;
    return report(*stop);
  }
}

Process::Paused Process::pause_running_threads(pid_t except) {
  Paused paused{{}, next_order_};
  for (const auto& [tid, thread] : threads_) {
    if (tid != except && thread.running) paused.threads.push_back(tid);
  }
  if (!paused.threads.empty()) stop_all_threads();
  return paused;
}

void Process::restart_threads(const Paused& paused) {
  auto restart = [this](pid_t tid, Thread& thread) {
    if (thread.pending && thread.pending->kind == StopEvent::Kind::kBreakpoint &&
        !thread.pending->hardware && thread.continuing && !thread.stop_requested) {
      // A hit made while paused: its pc is back at the breakpoint, so it meets it again when it
      // runs, and the hit filter is asked then, once (a false condition is never told).
      if (const auto pc = read_pc(tid); pc && breakpoints_.contains(*pc)) thread.pending.reset();
    }
    if (thread.pending) {  // what it hit while paused is its stop now
      ready_.push_back(*thread.pending);
      thread.pending.reset();
      return;
    }
    if (thread.stop_requested) {  // the interrupt was taken by the pause: told now
      thread.stop_requested = false;
      ready_.push_back(StopEvent::requested_stop(tid));
      return;
    }
    resume_thread(tid, thread, thread.stepping ? ResumeKind::kStep : ResumeKind::kContinue, 0);
  };
  for (const pid_t tid : paused.threads) {
    auto found = threads_.find(tid);
    if (found != threads_.end() && !found->second.running) restart(tid, found->second);
  }
  // Threads born meanwhile run, as their parent does (or are told of, with thread events).
  for (auto& [tid, thread] : threads_) {
    if (thread.order < paused.born_from || thread.running || thread.awaiting_first_stop) continue;
    if (reporting_.thread_events) {
      ready_.push_back(StopEvent{StopEvent::Kind::kThreadCreated, tid, SIGTRAP});
    } else {
      restart(tid, thread);
    }
  }
}

void Process::pass_stopping_others(pid_t tid, std::uint64_t address) {
  const auto paused = pause_running_threads(tid);
  if (exit_event_) {
    ready_.push_back(*exit_event_);
    exit_event_.reset();
    return;
  }
  ++pass_counters_.stopping_all;
  auto& thread = threads_.at(tid);
  auto stepped = step_over_breakpoint(tid, thread, address, 0);
  if (!alive_) {
    if (exit_event_) {
      ready_.push_back(*exit_event_);
    } else if (stepped) {
      ready_.push_back(*stepped);
    }
    exit_event_.reset();
    return;
  }
  if (stepped && stepped->kind != StopEvent::Kind::kStepDone) {
    ready_.push_back(*stepped);  // a watchpoint the instruction triggered
  } else if (auto found = threads_.find(tid); found != threads_.end()) {
    resume_thread(tid, found->second, ResumeKind::kContinue, 0);
  }
  restart_threads(paused);
}

std::optional<StopEvent> Process::take_pending_stop(std::span<const ThreadAction> actions) {
  for (const auto& action : actions) {
    auto found = threads_.find(action.tid);
    if (found == threads_.end() || !found->second.pending) continue;
    auto& pending = found->second.pending;
    // A hardware breakpoint or watchpoint removed since it fired: no reason to stop either (a
    // watchpoint's access is done; a breakpoint's instruction simply runs).
    if (pending->hardware) {
      const auto& hit = *pending->hardware;
      const auto where =
          hit.kind == HardwareKind::kExecute ? read_pc(action.tid).value_or(0) : hit.address;
      if (!debug_registers_.state().covers(hit.kind, where)) {
        pending.reset();
        continue;
      }
    }
    // A system call no longer caught: the thread simply goes on from its system call stop.
    if (pending->kind == StopEvent::Kind::kSyscallEntry ||
        pending->kind == StopEvent::Kind::kSyscallReturn) {
      if (!catch_syscalls_ ||
          (!catch_syscalls_->empty() && !catch_syscalls_->contains(pending->syscall))) {
        pending.reset();
        continue;
      }
    }
    // A breakpoint removed since it was hit is no reason to stop: the thread, whose pc was
    // rewound, simply executes the original instruction when it runs.
    if (pending->kind == StopEvent::Kind::kBreakpoint) {
      const auto pc = read_pc(action.tid);
      if (!pc || !breakpoints_.contains(*pc)) {
        pending.reset();
        continue;
      }
    }
    auto stop = *pending;
    pending.reset();
    return report(stop);
  }
  return std::nullopt;
}

std::vector<StopEvent> Process::take_pending_stops() {
  std::vector<ThreadAction> everyone;
  for (const auto& [tid, thread] : threads_) everyone.push_back({tid, ResumeKind::kContinue, 0});
  std::vector<StopEvent> stops;
  while (auto stop = take_pending_stop(everyone)) stops.push_back(*stop);
  return stops;
}

std::optional<StopEvent> Process::step_alone(pid_t tid, Thread& thread, int delivered) {
  (void)debug_registers_.sync(tid);
  thread.general.reset();
  thread.stepping = true;
  ptrace_call(PTRACE_SINGLESTEP, tid, 0, static_cast<std::uintptr_t>(delivered));
  for (;;) {
    const auto next = router_.next(*this, WaitRouter::Block::kYes);
    if (!next) {
      on_process_gone(StopEvent{StopEvent::Kind::kTerminated, pid_, SIGKILL, 0});
      return exit_event_;
    }
    const auto [waited, status] = *next;
    if (waited != tid) {
      if (auto gone = on_wait_status(waited, status, true)) {
        on_process_gone(*gone);
        return *gone;
      }
      continue;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      if (auto gone = on_wait_status(tid, status, true)) {
        on_process_gone(*gone);
        return *gone;
      }
      // This thread exited during its step (e.g. it was a syscall exit); the others go on.
      return StopEvent{StopEvent::Kind::kStepDone, tid, SIGTRAP, 0};
    }
    const int event = status >> 16;
    if (event == PTRACE_EVENT_CLONE) {
      if (const auto early = on_clone_event(tid)) {
        (void)on_wait_status(early->tid, early->status, true);  // stays stopped, as the others
      }
      ptrace_call(PTRACE_SINGLESTEP, tid);
      continue;
    }
    if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK) {
      // The stepped instruction is a fork's syscall: the client hears of the fork now, its
      // child held, and the step ends inside the system call (resumed, the thread returns from
      // it past the instruction). A vfork parent left stepping would wait for a child nobody
      // runs.
      if (auto forked = on_fork(tid, event == PTRACE_EVENT_VFORK)) {
        thread.running = false;
        thread.stepping = false;
        return forked;
      }
      ptrace_call(PTRACE_SINGLESTEP, tid);
      continue;
    }
    if (event != 0) {  // a stale interrupt or another event: the step is not done yet
      ptrace_call(PTRACE_SINGLESTEP, tid);
      continue;
    }
    const int signal = WSTOPSIG(status);
    siginfo_t info{};
    ptrace_call(PTRACE_GETSIGINFO, tid, 0, reinterpret_cast<std::uintptr_t>(&info));
    if (signal == SIGTRAP && info.si_code == TRAP_TRACE &&
        std::exchange(thread.drop_queued_step_trap, false)) {
      ptrace_call(PTRACE_SINGLESTEP, tid);  // an earlier step's trap, not this step's
      continue;
    }
    if (signal == SIGTRAP && (info.si_code == TRAP_TRACE || info.si_code == TRAP_HWBKPT)) break;
    if (signal == SIGTRAP && (info.si_code == SI_KERNEL || info.si_code == TRAP_BRKPT) &&
        std::exchange(thread.drop_queued_trap, false)) {
      ptrace_call(PTRACE_SINGLESTEP, tid);  // a hit already taken (queued_breakpoint_hit)
      continue;
    }
    if (signal != SIGTRAP || info.si_code == SI_USER || info.si_code == SI_TKILL) {
      thread.held_signals.push_back(signal);
      ptrace_call(PTRACE_SINGLESTEP, tid);
      continue;
    }
    break;  // another trap (the instruction itself trapped): report it as the step's end
  }
  thread.running = false;
  thread.stepping = false;
  return std::nullopt;
}

Result<StopEvent> Process::step_over_breakpoint(pid_t tid, Thread& thread, std::uint64_t pc,
                                                int signal) {
  // Only this thread runs, with the original instruction back in place, so no other thread can
  // run through the breakpoint unseen. Signals that arrive meanwhile are held and delivered with
  // the next resume: delivering one now would run its handler and then return onto the
  // re-inserted breakpoint, reporting the same hit twice. Only `signal`, the client's, goes.
  const auto original = breakpoints_.at(pc).original;
  if (auto restored = poke_bytes(pc, std::string(1, static_cast<char>(original))); !restored) {
    return std::unexpected(restored.error());
  }
  auto reinsert = [&] { (void)poke_bytes(pc, std::string(1, static_cast<char>(kInt3))); };
  if (auto ended = step_alone(tid, thread, signal)) {
    // This thread exited, or stopped for a fork inside the instruction: the others go on.
    if (ended->kind != StopEvent::Kind::kExited && ended->kind != StopEvent::Kind::kTerminated) {
      reinsert();
    }
    return *ended;
  }
  reinsert();
  // The stepped instruction may have written a watched address: that is the stop to report.
  const auto hit = debug_registers_.take_hit(tid);
  // New threads cloned during the step have reported their first stop by now.
  while (std::any_of(threads_.begin(), threads_.end(),
                     [](const auto& entry) { return entry.second.awaiting_first_stop; })) {
    const auto waited = router_.next(*this, WaitRouter::Block::kYes);
    if (!waited) break;
    if (auto gone = on_wait_status(waited->tid, waited->status, true)) {
      on_process_gone(*gone);
      return *gone;
    }
  }
  if (hit) return StopEvent{StopEvent::Kind::kSignal, tid, SIGTRAP, 0, hit};
  return StopEvent{StopEvent::Kind::kStepDone, tid, SIGTRAP, 0};
}

Result<std::int64_t> Process::inject_syscall(pid_t tid, long number,
                                             std::span<const std::uint64_t> arguments) {
  if (!alive_) return fail(ESRCH, "the process is not running");
  const auto found = threads_.find(tid);
  if (found == threads_.end()) return fail(ESRCH, fmt::format("no thread {}", tid));
  if (found->second.running) return fail(EBUSY, "the thread is running");
  if (arguments.size() > 6) return fail(EINVAL, "a system call takes at most six arguments");
  if (non_stop_ && running()) {
    // Non-stop: the others run. They are paused while `tid` steps alone (their events would
    // otherwise be kept as pending stops of threads the client thinks are running), and
    // restarted after, as they were.
    const auto paused = pause_running_threads(tid);
    non_stop_ = false;
    auto result = inject_syscall(tid, number, arguments);
    non_stop_ = true;
    if (alive_) restart_threads(paused);
    return result;
  }
  forget_registers(tid);
  // However it ends, the registers are as before, or the thread is gone: no cache survives.
  struct Forget {
    Process& process;
    pid_t tid;
    ~Forget() { process.forget_registers(tid); }
  } forget{*this, tid};
  user_regs_struct saved{};
  if (ptrace_call(PTRACE_GETREGS, tid, 0, reinterpret_cast<std::uintptr_t>(&saved)) != 0) {
    return std::unexpected(last_system_error("PTRACE_GETREGS"));
  }
  // The word under the pc as it is in memory (a breakpoint's int3 included), put back as is.
  errno = 0;
  const long code = ptrace_call(PTRACE_PEEKDATA, tid, saved.rip);
  if (errno != 0) return std::unexpected(last_system_error("PTRACE_PEEKDATA"));
  constexpr unsigned long kSyscall = 0x050f;  // 0f 05
  const unsigned long patched = (static_cast<unsigned long>(code) & ~0xffffUL) | kSyscall;
  if (ptrace_call(PTRACE_POKEDATA, tid, saved.rip, patched) != 0) {
    return std::unexpected(last_system_error("PTRACE_POKEDATA"));
  }
  user_regs_struct call = saved;
  call.rax = static_cast<unsigned long long>(number);
  // orig_rax -1: not inside a system call, so the kernel restarts no interrupted one here.
  call.orig_rax = ~0ULL;
  unsigned long long* const slots[] = {&call.rdi, &call.rsi, &call.rdx,
                                       &call.r10, &call.r8,  &call.r9};
  for (std::size_t i = 0; i < arguments.size(); ++i) *slots[i] = arguments[i];
  auto restore = [&] {
    (void)ptrace_call(PTRACE_POKEDATA, tid, saved.rip, static_cast<std::uintptr_t>(code));
    (void)ptrace_call(PTRACE_SETREGS, tid, 0, reinterpret_cast<std::uintptr_t>(&saved));
  };
  if (ptrace_call(PTRACE_SETREGS, tid, 0, reinterpret_cast<std::uintptr_t>(&call)) != 0) {
    auto error = last_system_error("PTRACE_SETREGS");
    restore();
    return std::unexpected(error);
  }
  // A thread stopped inside a system call (the exec stop, an interrupted futex) first finishes
  // leaving that one, which may store its result in rax: its first step can end before the
  // syscall instruction has run. Then the registers are set again and it steps again.
  user_regs_struct after{};
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (step_alone(tid, threads_.at(tid))) {
      if (alive_) restore();
      return fail(ESRCH, "the thread ended during the system call");
    }
    if (ptrace_call(PTRACE_GETREGS, tid, 0, reinterpret_cast<std::uintptr_t>(&after)) != 0) {
      auto error = last_system_error("PTRACE_GETREGS");
      restore();
      return std::unexpected(error);
    }
    if (after.rip != saved.rip) break;
    if (ptrace_call(PTRACE_SETREGS, tid, 0, reinterpret_cast<std::uintptr_t>(&call)) != 0) {
      auto error = last_system_error("PTRACE_SETREGS");
      restore();
      return std::unexpected(error);
    }
  }
  restore();
  if (after.rip != saved.rip + 2) return fail(EIO, "the injected system call did not complete");
  return static_cast<std::int64_t>(after.rax);
}

Result<std::optional<StopEvent>> Process::resume(std::span<const ThreadAction> actions) {
  if (!alive_) return fail(ESRCH, "the process is not running");
  for (const auto& action : actions) {
    if (!threads_.contains(action.tid)) return fail(ESRCH, fmt::format("no thread {}", action.tid));
  }
  if (!non_stop_) return resume_stopped(actions);
  // Non-stop: running threads keep running, whatever the action says (gdb's vCont;c names
  // every thread of the process); the stopped ones named run as asked.
  std::vector<ThreadAction> plan;
  for (const auto& action : actions) {
    auto& thread = threads_.at(action.tid);
    if (thread.running) continue;
    thread.stop_requested = false;
    if (thread.pending) {  // a stop not told yet: told now, the thread stays; the others run
      ready_.push_back(*thread.pending);
      thread.pending.reset();
      continue;
    }
    plan.push_back(action);
  }
  if (plan.empty()) return std::optional<StopEvent>{};
  // A thread stepped over its breakpoint runs alone with the breakpoint out of memory: the
  // others, running, are stopped meanwhile and restarted after (gdbserver's step-over).
  const bool step_over = std::any_of(plan.begin(), plan.end(), [this](const ThreadAction& a) {
    return at_reported_breakpoint(a.tid, threads_.at(a.tid).reported_breakpoint);
  });
  // Without a pause, restart_threads still runs the threads born during the resume.
  auto paused = step_over ? pause_running_threads(0) : Paused{{}, next_order_};
  if (exit_event_) {
    auto gone = *exit_event_;
    exit_event_.reset();
    return std::optional<StopEvent>(gone);
  }
  auto resumed = resume_stopped(plan);
  if (alive_) restart_threads(paused);
  return resumed;
}

Result<std::optional<StopEvent>> Process::resume_stopped(std::span<const ThreadAction> actions) {
  // A step done while everything was being stopped for another thread's stop, untold: the
  // client gave up on it when it continues the thread now, or steps it in a range that holds
  // the pc. No reason to stop, as gdbserver's rule.
  for (const auto& action : actions) {
    const auto found = threads_.find(action.tid);
    if (found == threads_.end() || !found->second.pending) continue;
    const auto& pending = *found->second.pending;
    if (pending.kind != StopEvent::Kind::kStepDone || pending.hardware) continue;
    bool given_up = action.kind == ResumeKind::kContinue;
    if (action.kind == ResumeKind::kStep && action.range_end > action.range_start) {
      const auto pc = read_pc(action.tid);
      given_up = pc && *pc >= action.range_start && *pc < action.range_end;
    }
    if (given_up) found->second.pending.reset();
  }
  if (auto pending = take_pending_stop(actions)) {
    // Nothing runs. A signal the client asked to deliver waits for the thread's next
    // continue, as gdbserver queues it; dropped here, it would be lost.
    for (const auto& action : actions) {
      if (action.signal != 0) threads_.at(action.tid).held_signals.push_back(action.signal);
    }
    return pending;
  }

  const auto known_before = threads_.size();
  std::vector<ThreadAction> plan(actions.begin(), actions.end());
  // Every thread's mark as it was, to put back for those that do not run after all.
  std::vector<std::pair<pid_t, std::optional<std::uint64_t>>> marks;
  for (const auto& action : plan)
    marks.emplace_back(action.tid, threads_.at(action.tid).reported_breakpoint);
  for (auto& action : plan) {
    auto& thread = threads_.at(action.tid);
    // Cleared only for threads that go on: an early return below leaves the others' marks
    // for their next resume (lldb may hold several threads at one breakpoint).
    const auto reported = std::exchange(thread.reported_breakpoint, std::nullopt);
    if (!at_reported_breakpoint(action.tid, reported)) continue;
    // A signal the client delivers goes with the step over, as gdbserver does: its handler
    // runs first (a client's step stops at the handler's entry), and returns onto the
    // breakpoint, which is then hit again.
    auto stepped =
        step_over_breakpoint(action.tid, thread, *reported, std::exchange(action.signal, 0));
    if (!stepped) return std::unexpected(stepped.error());
    // A step is complete once over the breakpoint (unless a range step stays in its range);
    // so is anything that ended the process.
    const auto after = read_pc(action.tid);
    const bool in_range = stepped->kind == StopEvent::Kind::kStepDone && after &&
                          *after >= action.range_start && *after < action.range_end;
    if ((action.kind == ResumeKind::kStep && !in_range) ||
        stepped->kind != StopEvent::Kind::kStepDone) {
      for (const auto& [tid, mark] : marks) {
        const auto found = threads_.find(tid);
        if (tid != action.tid && found != threads_.end()) found->second.reported_breakpoint = mark;
      }
      return std::optional<StopEvent>(*stepped);
    }
  }
  for (const auto& action : plan) {
    auto found = threads_.find(action.tid);
    if (found == threads_.end()) continue;  // exited during a step-over
    found->second.range_start = action.kind == ResumeKind::kStep ? action.range_start : 0;
    found->second.range_end = action.kind == ResumeKind::kStep ? action.range_end : 0;
    resume_thread(action.tid, found->second, action.kind, action.signal);
  }
  if (threads_.size() > known_before && !non_stop_) {
    // Threads born during a step-over were not known to the client when it resumed "all".
    // (Non-stop: restart_threads runs them.)
    const bool continuing = std::any_of(plan.begin(), plan.end(), [](const ThreadAction& a) {
      return a.kind == ResumeKind::kContinue;
    });
    for (auto& [tid, thread] : threads_) {
      if (continuing && !thread.running && !thread.pending &&
          std::none_of(plan.begin(), plan.end(),
                       [tid](const ThreadAction& a) { return a.tid == tid; })) {
        resume_thread(tid, thread, ResumeKind::kContinue, 0);
      }
    }
  }
  return std::optional<StopEvent>{};
}

Result<void> Process::insert_hardware_point(HardwareKind kind, std::uint64_t address,
                                            std::uint64_t length) {
  if (!alive_) return fail(ESRCH, "the process is not running");
  if (kind == HardwareKind::kExecute && !debug_traps_delivered()) {
    return insert_breakpoint(address, BreakpointOwner::kHardware);
  }
  if (auto inserted = debug_registers_.insert(kind, address, length); !inserted) return inserted;
  // Written to the stopped threads now, so that a value the kernel refuses (an address
  // outside user space, say) fails this request rather than a later resume.
  for (const auto& [tid, thread] : threads_) {
    if (thread.running || thread.awaiting_first_stop) continue;
    if (auto synced = debug_registers_.sync(tid); !synced) {
      (void)debug_registers_.remove(kind, address, length);
      for (const auto& [other, unused] : threads_) {
        if (!threads_.at(other).running) (void)debug_registers_.sync(other);
      }
      return synced;
    }
  }
  return {};
}

Result<void> Process::remove_hardware_point(HardwareKind kind, std::uint64_t address,
                                            std::uint64_t length) {
  if (!alive_) return fail(ESRCH, "the process is not running");
  if (kind == HardwareKind::kExecute && has_breakpoint(address, BreakpointOwner::kHardware)) {
    return remove_breakpoint(address, BreakpointOwner::kHardware);
  }
  return debug_registers_.remove(kind, address, length);  // written at the next resume
}

Result<std::uint64_t> Process::debug_register(pid_t tid, int index) const {
  if (!threads_.contains(tid)) return fail(ESRCH, fmt::format("no thread {}", tid));
  errno = 0;
  const long value =
      ptrace_call(PTRACE_PEEKUSER, tid, offsetof(struct user, u_debugreg) + sizeof(long) * index);
  if (errno != 0) return std::unexpected(last_system_error("PTRACE_PEEKUSER"));
  return static_cast<std::uint64_t>(value);
}

Result<std::string> Process::read_siginfo(pid_t tid) const {
  if (!threads_.contains(tid)) return fail(ESRCH, fmt::format("no thread {}", tid));
  siginfo_t info{};
  static_assert(sizeof info == kSiginfoSize);
  if (ptrace_call(PTRACE_GETSIGINFO, tid, 0, reinterpret_cast<std::uintptr_t>(&info)) != 0) {
    return std::unexpected(last_system_error("PTRACE_GETSIGINFO"));
  }
  return std::string(reinterpret_cast<const char*>(&info), sizeof info);
}

Result<void> Process::write_siginfo(pid_t tid, std::string_view bytes) {
  if (!threads_.contains(tid)) return fail(ESRCH, fmt::format("no thread {}", tid));
  if (bytes.size() != kSiginfoSize) return fail(EINVAL, "siginfo has the wrong size");
  siginfo_t info{};
  std::memcpy(&info, bytes.data(), sizeof info);
  if (ptrace_call(PTRACE_SETSIGINFO, tid, 0, reinterpret_cast<std::uintptr_t>(&info)) != 0) {
    return std::unexpected(last_system_error("PTRACE_SETSIGINFO"));
  }
  return {};
}

std::optional<StopEvent> Process::on_syscall_stop(pid_t tid, Thread& thread) {
  __ptrace_syscall_info info{};
  if (ptrace_call(PTRACE_GET_SYSCALL_INFO, tid, sizeof info,
                  reinterpret_cast<std::uintptr_t>(&info)) <= 0) {
    return std::nullopt;
  }
  const bool entry = info.op == PTRACE_SYSCALL_INFO_ENTRY;
  if (!entry && info.op != PTRACE_SYSCALL_INFO_EXIT) return std::nullopt;
  errno = 0;
  const long number = entry
                          ? static_cast<long>(info.entry.nr)
                          : ptrace_call(PTRACE_PEEKUSER, tid, offsetof(user_regs_struct, orig_rax));
  if (!catch_syscalls_ || (!catch_syscalls_->empty() && !catch_syscalls_->contains(number))) {
    return std::nullopt;
  }
  thread.stepping = false;
  thread.range_start = thread.range_end = 0;
  StopEvent stop{entry ? StopEvent::Kind::kSyscallEntry : StopEvent::Kind::kSyscallReturn, tid,
                 SIGTRAP, 0};
  stop.syscall = number;
  return stop;
}

std::optional<StopEvent> Process::on_fork(pid_t tid, bool vfork) {
  unsigned long message = 0;
  ptrace_call(PTRACE_GETEVENTMSG, tid, 0, reinterpret_cast<std::uintptr_t>(&message));
  const auto child = static_cast<pid_t>(message);
  if (child <= 0) return std::nullopt;
  if (!forks_.early_stops.erase(child)) {
    // Another Process's wait may have reaped it: then it waits in the stash.
    const auto first = router_.next_of(*this, child);
    if (!first || !WIFSTOPPED(first->status)) return std::nullopt;  // gone already
  }
  // A fork child has a copy of every breakpoint; a vfork child shares the parent's memory.
  forks_.held[child] = ForkChild{vfork, vfork ? decltype(breakpoints_){} : breakpoints_};
  if (!(vfork ? forks_.report_vfork : forks_.report_fork)) {
    release_fork_child(child);
    return std::nullopt;
  }
  StopEvent stop{vfork ? StopEvent::Kind::kVfork : StopEvent::Kind::kFork, tid, SIGTRAP, 0};
  stop.child = child;
  return stop;
}

void Process::release_fork_child(pid_t child) {
  const auto found = forks_.held.find(child);
  if (found == forks_.held.end()) return;
  for (const auto& [address, breakpoint] : found->second.breakpoints) {
    (void)poke_other(child, address, breakpoint.original);
  }
  ptrace_call(PTRACE_DETACH, child);
  forks_.held.erase(found);
}

Result<void> Process::remove_fork_child_breakpoint(pid_t child, std::uint64_t address) {
  const auto found = forks_.held.find(child);
  if (found == forks_.held.end()) return fail(ESRCH, fmt::format("no fork child {}", child));
  auto& breakpoints = found->second.breakpoints;
  if (const auto breakpoint = breakpoints.find(address); breakpoint != breakpoints.end()) {
    if (!poke_other(child, address, breakpoint->second.original)) {
      return std::unexpected(last_system_error("write to the fork child"));
    }
    breakpoints.erase(breakpoint);
  }
  return {};
}

Result<void> Process::detach_fork_child(pid_t child) {
  if (!forks_.held.contains(child)) return fail(ESRCH, fmt::format("no fork child {}", child));
  release_fork_child(child);
  return {};
}

void Process::kill_fork_child(pid_t child) {
  if (forks_.held.erase(child) == 0) return;
  ::kill(child, SIGKILL);
  for (;;) {
    const auto waited = router_.next_of(*this, child);
    if (!waited || WIFEXITED(waited->status) || WIFSIGNALED(waited->status)) break;
  }
}

std::unique_ptr<Process> Process::take_fork_child(pid_t held) {
  if (!forks_.held.contains(held)) return nullptr;
  auto node = forks_.held.extract(held);
  std::unique_ptr<Process> child(new Process());
  child->pid_ = node.key();
  child->attached_ = attached_;
  child->executable_ = executable_;
  child->breakpoints_ = std::move(node.mapped().breakpoints);
  child->pass_signals_ = pass_signals_;
  child->program_signals_ = program_signals_;
  child->forks_.report_fork = forks_.report_fork;
  child->forks_.report_vfork = forks_.report_vfork;
  child->add_thread(child->pid_);
  child->memory_fd_ = ::open(fmt::format("/proc/{}/mem", child->pid_).c_str(), O_RDWR | O_CLOEXEC);
  child->catch_syscalls_ = catch_syscalls_;
  router_.reroute(*this);  // anything already reaped for the child is its own now
  return child;
}

Result<void> Process::signal_process(int signal) {
  if (!alive_) return fail(ESRCH, "the process has ended");
  if (::kill(pid_, signal) != 0) return std::unexpected(last_system_error("kill"));
  return {};
}

StopEvent Process::kill() {
  // Held fork children stay: gdb kills each inferior it knows of (vKill;CHILD); those it does
  // not are killed when the Process goes.
  if (!alive_) return StopEvent{StopEvent::Kind::kTerminated, pid_, SIGKILL, 0};
  ::kill(pid_, SIGKILL);
  StopEvent final_stop{StopEvent::Kind::kTerminated, pid_, SIGKILL, 0};
  for (;;) {
    const auto waited = router_.next(*this, WaitRouter::Block::kYes);
    if (!waited) break;
    const auto [tid, status] = *waited;
    if (tid == pid_ && (WIFEXITED(status) || WIFSIGNALED(status))) {
      if (WIFEXITED(status)) final_stop = {StopEvent::Kind::kExited, pid_, 0, WEXITSTATUS(status)};
      break;
    }
  }
  on_process_gone(final_stop);
  exit_event_.reset();
  return final_stop;
}

Result<void> Process::detach() {
  while (!forks_.held.empty()) release_fork_child(forks_.held.begin()->first);
  if (!alive_) return fail(ESRCH, "the process is not running");
  if (running()) stop_all_threads();
  for (const auto& [address, breakpoint] : breakpoints_) {
    (void)poke_bytes(address, std::string(1, static_cast<char>(breakpoint.original)));
  }
  breakpoints_.clear();
  for (auto& [tid, thread] : threads_) {
    debug_registers_.release(tid);  // a debug trap would kill the untraced program
    int signal = 0;
    if (thread.pending && thread.pending->kind == StopEvent::Kind::kSignal &&
        thread.pending->signal != SIGTRAP) {
      signal = thread.pending->signal;
    } else if (!thread.held_signals.empty()) {
      signal = thread.held_signals.front();
    }
    ptrace_call(PTRACE_DETACH, tid, 0, static_cast<std::uintptr_t>(signal));
  }
  threads_.clear();
  alive_ = false;
  return {};
}

}  // namespace gostub::target
