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

std::vector<Program*> Programs::live() const {
  std::vector<Program*> programs;
  if (auto* chosen = current(); chosen != nullptr && chosen->alive()) programs.push_back(chosen);
  for (const auto& [pid, program] : by_pid_) {
    if (pid != current_ && program->alive()) programs.push_back(program.get());
  }
  return programs;
}

bool Programs::select(pid_t pid) {
  auto* program = find(pid);
  if (program == nullptr) return false;
  current_ = pid;
  default_executable_ = program->executable();
  return true;
}

Program* Programs::add(std::unique_ptr<Program> program) {
  std::erase_if(by_pid_, [this](const auto& entry) {
    if (entry.second->alive()) return false;
    deferred_.erase(entry.first);
    return true;
  });
  default_executable_ = program->executable();
  current_ = program->pid();
  return by_pid_.insert_or_assign(current_, std::move(program)).first->second.get();
}

Program* Programs::add_fork_child(std::unique_ptr<Program> child) {
  const auto pid = child->pid();
  return by_pid_.insert_or_assign(pid, std::move(child)).first->second.get();
}

target::Result<Program*> Programs::launch(const target::LaunchOptions& options) {
  auto launched = factory_.launch(options);
  if (!launched) return std::unexpected(launched.error());
  fmt::print(stderr, "Process {} created; pid = {}\n", (*launched)->executable(),
             (*launched)->pid());
  return add(std::move(*launched));
}

target::Result<Program*> Programs::attach(pid_t pid) {
  if (auto* known = find(pid); known != nullptr && known->alive()) {
    return target::fail(EPERM, fmt::format("Already attached to process {}", pid));
  }
  auto attached = factory_.attach(pid);
  if (!attached) return std::unexpected(attached.error());
  fmt::print(stderr, "Attached; pid = {}\n", pid);
  return add(std::move(*attached));
}

void Programs::forget(pid_t pid) {
  by_pid_.erase(pid);
  deferred_.erase(pid);
  if (current_ != pid) return;
  current_ = 0;
  for (const auto& [other, program] : by_pid_) {
    if (program->alive()) {
      current_ = other;
      break;
    }
  }
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
  deferred_.clear();
}

void Programs::defer(pid_t pid, StopReport report) {
  deferred_.insert_or_assign(pid, std::move(report));
}

std::vector<pid_t> Programs::ended_with_deferred() const {
  std::vector<pid_t> ended;
  for (const auto& [pid, report] : deferred_) {
    if (const auto* program = find(pid); program != nullptr && !program->alive()) {
      ended.push_back(pid);
    }
  }
  return ended;
}

std::optional<StopReport> Programs::take_deferred(pid_t pid) {
  const auto found = deferred_.find(pid);
  if (found == deferred_.end()) return std::nullopt;
  auto report = std::move(found->second);
  deferred_.erase(found);
  return report;
}

}  // namespace gostub::server
