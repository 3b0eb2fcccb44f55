// The server's debugged programs, keyed by pid. They outlive clients: a client that leaves
// finds, when it comes back, the program where it left it. The client's run/attach (vRun, A,
// vAttach) comes through here.
//
// One program lives at a time for now: target::Process waits with waitpid(-1), so a second
// live tracee's events would reach the wrong one. Running or attaching another ends the
// current one (killed when launched, detached when attached), as before; the collection is
// already keyed by pid for fork children and multiprocess extended-remote.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "server/program.hpp"
#include "server/traced_program.hpp"

namespace gostub::server {

class Programs {
 public:
  explicit Programs(ProgramFactory& factory) : factory_(factory) {}

  // The program the client debugs; nullptr before any (gostub --multi).
  Program* current() const;
  Program* find(pid_t pid) const;
  // The program a client's empty `run` means: the current one's, or the last one's.
  const std::string& default_executable() const { return default_executable_; }

  // A new program replaces the current one (and every one that has ended).
  Program* add(std::unique_ptr<Program> program);
  target::Result<Program*> launch(const target::LaunchOptions& options);
  target::Result<Program*> attach(pid_t pid);
  // Killed when gostub launched it, detached when it attached.
  static void end(Program& program);
  // gostub exits: every program is ended.
  void end_all();

 private:
  ProgramFactory& factory_;
  std::map<pid_t, std::unique_ptr<Program>> by_pid_;
  pid_t current_ = 0;
  std::string default_executable_;
};

}  // namespace gostub::server
