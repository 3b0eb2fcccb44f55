// The server's debugged programs, keyed by pid. They outlive clients: a client that leaves
// finds, when it comes back, every program where it left it. Several live side by side (gdb's
// inferiors: programs run or attached in extended mode, fork children kept with detach-on-fork
// off or followed); each target::Process takes its own wait statuses through the tracer
// thread's WaitRouter. The client's run/attach (vRun, A, vAttach) comes through here.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/program.hpp"
#include "server/traced_program.hpp"

namespace gostub::server {

class Programs {
 public:
  explicit Programs(ProgramFactory& factory) : factory_(factory) {}

  // The program the client debugs now (its last selection, or the last to report a stop);
  // nullptr before any (gostub --multi). It may have ended: its exit is its last stop.
  Program* current() const;
  Program* find(pid_t pid) const;
  // Every live program, the current one first.
  std::vector<Program*> live() const;
  // Whether a live program satisfies `predicate` (no list is made: asked after every packet).
  template <typename Predicate>
  bool any_live(Predicate predicate) const {
    for (const auto& [pid, program] : by_pid_) {
      if (program->alive() && predicate(*program)) return true;
    }
    return false;
  }
  // The client turns to another program (Hg pPID.TID, a stop of that program). False when no
  // program has that pid.
  bool select(pid_t pid);
  // The program a client's empty `run` means: the current one's, or the last one's.
  const std::string& default_executable() const { return default_executable_; }

  // A new program joins the live ones and becomes current; those that have ended are dropped.
  Program* add(std::unique_ptr<Program> program);
  target::Result<Program*> launch(const target::LaunchOptions& options);
  target::Result<Program*> attach(pid_t pid);
  // A fork child the client keeps (detach-on-fork off, follow-fork-mode child): a program of
  // its own from its parent's fork stop on; not current until the client turns to it.
  Program* add_fork_child(std::unique_ptr<Program> child);
  // A program the client detached from: unlike an exit, nothing of it is left to tell, and a
  // client that comes later must not find it (gdb would take its last stop for a live one).
  // The next live program becomes current, or none.
  void forget(pid_t pid);
  // Killed when gostub launched it, detached when it attached.
  static void end(Program& program);
  // gostub exits: every program is ended.
  void end_all();

  // A stop that could not be told when it happened (the client was being told another
  // program's): told, with nothing run, when that program is resumed next.
  void defer(pid_t pid, StopReport report);
  std::optional<StopReport> take_deferred(pid_t pid);
  // Programs that ended with their end still to tell (a vfork child that exited while its
  // parent's stop was told).
  std::vector<pid_t> ended_with_deferred() const;

 private:
  ProgramFactory& factory_;
  std::map<pid_t, std::unique_ptr<Program>> by_pid_;
  std::map<pid_t, StopReport> deferred_;
  pid_t current_ = 0;
  std::string default_executable_;
};

}  // namespace gostub::server
