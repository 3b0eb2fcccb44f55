#include "server/programs.hpp"

#include <fmt/core.h>

namespace gostub::server {

Program* Programs::current() const {
  return find(current_);
}

Program* Programs::find(pid_t pid) const {
  const auto found = by_pid_.find(pid);
  return found == by_pid_.end() ? nullptr : found->second.get();
}

Program* Programs::add(std::unique_ptr<Program> program) {
  for (auto& [pid, old] : by_pid_) end(*old);
  by_pid_.clear();
  default_executable_ = program->executable();
  current_ = program->pid();
  return by_pid_.insert_or_assign(current_, std::move(program)).first->second.get();
}

target::Result<Program*> Programs::launch(const target::LaunchOptions& options) {
  auto launched = factory_.launch(options);
  if (!launched) return std::unexpected(launched.error());
  fmt::print(stderr, "Process {} created; pid = {}\n", (*launched)->executable(),
             (*launched)->pid());
  return add(std::move(*launched));
}

target::Result<Program*> Programs::attach(pid_t pid) {
  auto attached = factory_.attach(pid);
  if (!attached) return std::unexpected(attached.error());
  fmt::print(stderr, "Attached; pid = {}\n", pid);
  return add(std::move(*attached));
}

void Programs::end(Program& program) {
  if (!program.alive()) return;
  if (program.attached()) {
    fmt::print(stderr, "Detaching from process {}\n", program.pid());
    (void)program.detach();
  } else {
    (void)program.kill();
  }
}

void Programs::end_all() {
  for (auto& [pid, program] : by_pid_) end(*program);
}

}  // namespace gostub::server
