// The tracer thread's wait statuses, shared by every Process it traces.
//
// The kernel queues every tracee's status for the one tracer thread, and waitpid(-1) reaps
// whichever comes first: with two live programs, a wait in one would take the other's events.
// The router reaps for everyone and hands each status to the member that owns its task (a
// thread it knows, a fork child it holds; a task it does not know yet by its thread group,
// then its parent). A status for another member is stashed until that member asks, in the
// order it arrived; one nobody claims goes to the member that asked (it was waiting for it).
#pragma once

#include <sys/types.h>

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace gostub::target {

// A task's thread group and parent process (/proc/TID/status Tgid and PPid); zeros when the
// task is gone.
std::pair<pid_t, pid_t> task_group_and_parent(pid_t tid);

struct WaitStatus {
  pid_t tid;
  int status;
};

class WaitRouter {
 public:
  // A Process, as the router sees it.
  class Member {
   public:
    // Whether the task (thread, held child, child seen before its parent's event) is this
    // member's.
    virtual bool owns_task(pid_t tid) const = 0;

   protected:
    ~Member() = default;
  };

  // waitpid(2)'s signature: the system's, or a script in the unit tests.
  using WaitFunction = std::function<pid_t(pid_t pid, int* status, int options)>;
  // A task's thread group and parent process (/proc/TID/status Tgid and PPid); zeros when
  // the task is gone.
  using TaskLookup = std::function<std::pair<pid_t, pid_t>(pid_t tid)>;

  WaitRouter();  // over waitpid and /proc
  WaitRouter(WaitFunction wait, TaskLookup lookup);
  WaitRouter(const WaitRouter&) = delete;
  WaitRouter& operator=(const WaitRouter&) = delete;

  // The router of the calling thread (ptrace is per thread, so is this).
  static WaitRouter& of_this_thread();

  void join(Member& member);
  // A member that goes: what was stashed for it is dropped (its tasks are reaped or let go).
  void leave(Member& member);

  enum class Block : bool { kNo, kYes };
  // The next status of `asker`: first what was stashed for it, then the kernel's. nullopt when
  // nothing is waiting (kNo), or the tracer has no child left to wait for.
  std::optional<WaitStatus> next(Member& asker, Block block);
  // The next status of one task of `asker` (a fork child's first stop), waited for alone when
  // it has not been reaped yet. nullopt when the task is gone.
  std::optional<WaitStatus> next_of(Member& asker, pid_t tid);
  bool has_stashed(const Member& member) const;
  // After tasks changed hands (a held fork child became a Process of its own): statuses
  // stashed for `from` that another member owns now move to that member.
  void reroute(Member& from);

 private:
  Member* owner_of(pid_t tid) const;

  WaitFunction wait_;
  TaskLookup lookup_;
  std::vector<Member*> members_;
  std::map<const Member*, std::deque<WaitStatus>> stashed_;
};

}  // namespace gostub::target
