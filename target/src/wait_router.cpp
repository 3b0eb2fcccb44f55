#include "target/wait_router.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace gostub::target {

namespace {

pid_t number_after(std::string_view text, std::string_view key) {
  const auto at = text.find(key);
  if (at == std::string_view::npos) return 0;
  return static_cast<pid_t>(std::strtol(text.data() + at + key.size(), nullptr, 10));
}

}  // namespace

std::pair<pid_t, pid_t> task_group_and_parent(pid_t tid) {
  const int fd = ::open(fmt::format("/proc/{}/status", tid).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {0, 0};
  std::array<char, 4096> buffer{};
  const auto length = ::read(fd, buffer.data(), buffer.size() - 1);
  ::close(fd);
  if (length <= 0) return {0, 0};
  const std::string_view status(buffer.data(), static_cast<std::size_t>(length));
  return {number_after(status, "\nTgid:"), number_after(status, "\nPPid:")};
}

WaitRouter::WaitRouter() : WaitRouter(::waitpid, task_group_and_parent) {}

WaitRouter::WaitRouter(WaitFunction wait, TaskLookup lookup)
    : wait_(std::move(wait)), lookup_(std::move(lookup)) {}

WaitRouter& WaitRouter::of_this_thread() {
  thread_local WaitRouter router;
  return router;
}

void WaitRouter::join(Member& member) {
  if (std::find(members_.begin(), members_.end(), &member) == members_.end()) {
    members_.push_back(&member);
  }
}

void WaitRouter::leave(Member& member) {
  std::erase(members_, &member);
  stashed_.erase(&member);
}

WaitRouter::Member* WaitRouter::owner_of(pid_t tid) const {
  auto owning = [this](pid_t task) -> Member* {
    if (task <= 0) return nullptr;
    for (auto* member : members_) {
      if (member->owns_task(task)) return member;
    }
    return nullptr;
  };
  if (auto* member = owning(tid)) return member;
  // A task nobody knows yet: a new thread (its group is known), or a new fork child (its
  // parent is). A task already gone has no /proc entry: nobody claims it.
  const auto [group, parent] = lookup_(tid);
  if (auto* member = owning(group)) return member;
  return owning(parent);
}

std::optional<WaitStatus> WaitRouter::next(Member& asker, Block block) {
  if (auto found = stashed_.find(&asker); found != stashed_.end() && !found->second.empty()) {
    const auto status = found->second.front();
    found->second.pop_front();
    return status;
  }
  for (;;) {
    int status = 0;
    const pid_t tid = wait_(-1, &status, __WALL | (block == Block::kYes ? 0 : WNOHANG));
    if (tid < 0 && errno == EINTR) continue;
    if (tid <= 0) return std::nullopt;
    // Alone on the thread (the usual case), every status is the asker's: no /proc lookup for
    // a task it does not know yet.
    auto* owner = members_.size() <= 1 ? &asker : owner_of(tid);
    if (owner == nullptr || owner == &asker) return WaitStatus{tid, status};
    stashed_[owner].push_back(WaitStatus{tid, status});
  }
}

std::optional<WaitStatus> WaitRouter::next_of(Member& asker, pid_t tid) {
  if (auto found = stashed_.find(&asker); found != stashed_.end()) {
    auto& queue = found->second;
    const auto entry = std::find_if(queue.begin(), queue.end(),
                                    [tid](const WaitStatus& status) { return status.tid == tid; });
    if (entry != queue.end()) {
      const auto status = *entry;
      queue.erase(entry);
      return status;
    }
  }
  for (;;) {
    int status = 0;
    const pid_t waited = wait_(tid, &status, __WALL);
    if (waited < 0 && errno == EINTR) continue;
    if (waited != tid) return std::nullopt;
    return WaitStatus{tid, status};
  }
}

bool WaitRouter::has_stashed(const Member& member) const {
  const auto found = stashed_.find(&member);
  return found != stashed_.end() && !found->second.empty();
}

void WaitRouter::reroute(Member& from) {
  const auto found = stashed_.find(&from);
  if (found == stashed_.end()) return;
  std::deque<WaitStatus> kept;
  for (const auto& status : found->second) {
    auto* owner = owner_of(status.tid);
    if (owner == nullptr || owner == &from) {
      kept.push_back(status);
    } else {
      stashed_[owner].push_back(status);
    }
  }
  stashed_[&from] = std::move(kept);
}

}  // namespace gostub::target
