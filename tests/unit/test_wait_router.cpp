// The WaitRouter over a scripted waitpid: every status reaches the member that owns its task,
// in order, whoever's wait reaped it; and two real programs on one tracer thread.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <set>
#include <string>

#include "target/process.hpp"
#include "target/wait_router.hpp"

using namespace gostub::target;

namespace {

struct Owner final : WaitRouter::Member {
  explicit Owner(std::set<pid_t> owned) : tasks(std::move(owned)) {}
  bool owns_task(pid_t tid) const override { return tasks.contains(tid); }
  std::set<pid_t> tasks;
};

// The kernel's queue of statuses, and each task's Tgid and PPid.
struct Script {
  std::deque<WaitStatus> queue;
  std::map<pid_t, std::pair<pid_t, pid_t>> tasks;

  WaitRouter router() {
    return WaitRouter(
        [this](pid_t pid, int* status, int options) -> pid_t {
          for (auto it = queue.begin(); it != queue.end(); ++it) {
            if (pid != -1 && it->tid != pid) continue;
            *status = it->status;
            const pid_t tid = it->tid;
            queue.erase(it);
            return tid;
          }
          if (options & WNOHANG) return 0;
          errno = ECHILD;
          return -1;
        },
        [this](pid_t tid) {
          const auto found = tasks.find(tid);
          return found == tasks.end() ? std::pair<pid_t, pid_t>{0, 0} : found->second;
        });
  }
};

constexpr int stopped(int signal) {
  return (signal << 8) | 0x7f;
}

}  // namespace

TEST_CASE("a status reaped by one member's wait waits for its owner, in order") {
  Script script;
  auto router = script.router();
  Owner first({10, 11}), second({20});
  router.join(first);
  router.join(second);
  script.queue = {{20, stopped(SIGTRAP)},
                  {21, stopped(SIGSTOP)},
                  {10, stopped(SIGINT)},
                  {40, stopped(SIGSTOP)},
                  {20, stopped(SIGUSR1)}};
  script.tasks[21] = {20, 1};   // a new thread of the second: its thread group says so
  script.tasks[40] = {40, 11};  // a fork child of the first: its parent says so

  auto mine = router.next(first, WaitRouter::Block::kNo);
  REQUIRE(mine);
  CHECK(mine->tid == 10);
  CHECK(router.has_stashed(second));
  CHECK_FALSE(router.has_stashed(first));
  mine = router.next(first, WaitRouter::Block::kNo);
  REQUIRE(mine);
  CHECK(mine->tid == 40);
  CHECK_FALSE(router.next(first, WaitRouter::Block::kNo));  // the rest is the second's
  for (const auto& [tid, status] :
       {std::pair{20, stopped(SIGTRAP)}, {21, stopped(SIGSTOP)}, {20, stopped(SIGUSR1)}}) {
    const auto theirs = router.next(second, WaitRouter::Block::kNo);
    REQUIRE(theirs);
    CHECK(theirs->tid == tid);
    CHECK(theirs->status == status);
  }
  CHECK_FALSE(router.has_stashed(second));
}

TEST_CASE("a task nobody owns goes to the one that waits; next_of takes one task's status") {
  Script script;
  auto router = script.router();
  Owner first({10}), second({20});
  router.join(first);
  router.join(second);
  script.queue = {{99, 0}};  // 99 exited: no /proc entry any more
  const auto unclaimed = router.next(second, WaitRouter::Block::kYes);
  REQUIRE(unclaimed);
  CHECK(unclaimed->tid == 99);

  // A fork child's first stop, reaped by the other member's wait before its parent asks.
  script.queue = {{50, stopped(SIGSTOP)}, {10, stopped(SIGTRAP)}, {20, stopped(SIGSTOP)}};
  script.tasks[50] = {50, 10};
  const auto parent = router.next(second, WaitRouter::Block::kYes);
  REQUIRE(parent);
  CHECK(parent->tid == 20);  // its own, after the first's two
  CHECK(router.has_stashed(first));
  const auto child = router.next_of(first, 50);
  REQUIRE(child);
  CHECK(child->status == stopped(SIGSTOP));
  const auto event = router.next(first, WaitRouter::Block::kNo);
  REQUIRE(event);
  CHECK(event->tid == 10);
  CHECK_FALSE(router.next_of(first, 77));  // no such task: not waited for forever

  // A member that leaves takes nothing with it, and leaves nothing behind.
  script.queue = {{10, stopped(SIGINT)}};
  CHECK_FALSE(router.next(second, WaitRouter::Block::kNo));
  CHECK(router.has_stashed(first));
  router.leave(first);
  CHECK_FALSE(router.has_stashed(first));
}

TEST_CASE("reroute: statuses stashed for a parent follow its child to a member of its own") {
  Script script;
  auto router = script.router();
  Owner parent({10, 60}), other({20});
  router.join(parent);
  router.join(other);
  script.queue = {{60, stopped(SIGSTOP)}};
  CHECK_FALSE(router.next(other, WaitRouter::Block::kNo));
  CHECK(router.has_stashed(parent));
  Owner child({60});
  parent.tasks.erase(60);
  router.join(child);
  router.reroute(parent);
  CHECK_FALSE(router.has_stashed(parent));
  const auto moved = router.next(child, WaitRouter::Block::kNo);
  REQUIRE(moved);
  CHECK(moved->tid == 60);
}

TEST_CASE("two live programs on one tracer thread: each gets its own stop") {
  LaunchOptions options;
  options.argv = {"/bin/sleep", "30"};
  options.take_terminal = false;
  auto first = Process::launch(options);
  auto second = Process::launch(options);
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  auto& a = **first;
  auto& b = **second;
  const ThreadAction run_a{a.pid(), ResumeKind::kContinue, 0};
  const ThreadAction run_b{b.pid(), ResumeKind::kContinue, 0};
  REQUIRE(a.resume(std::span(&run_a, 1)).has_value());
  REQUIRE(b.resume(std::span(&run_b, 1)).has_value());
  // The second gets a signal; the first is interrupted, its wait reaping whatever is queued.
  ::kill(b.pid(), SIGWINCH);
  siginfo_t info{};
  REQUIRE(::waitid(P_PID, static_cast<id_t>(b.pid()), &info, WSTOPPED | WNOWAIT | __WALL) == 0);
  const auto interrupted = a.interrupt_all();
  REQUIRE(interrupted);
  CHECK(interrupted->kind == StopEvent::Kind::kInterrupt);
  CHECK(interrupted->tid == a.pid());
  const auto signalled = b.handle_wait_events();
  REQUIRE(signalled);
  CHECK(signalled->kind == StopEvent::Kind::kSignal);
  CHECK(signalled->signal == SIGWINCH);
  CHECK(signalled->tid == b.pid());
  // Killing one waits for its own end only.
  CHECK(a.kill().kind == StopEvent::Kind::kTerminated);
  CHECK(b.alive());
  CHECK_FALSE(b.handle_wait_events());
}
