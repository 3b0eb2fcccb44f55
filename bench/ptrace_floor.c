/* The physical floor of a breakpoint hit nobody needs to see, on this machine: a child runs
 * `int3` N times; a minimal tracer (no server, no protocol) waits for each SIGTRAP and resumes
 * it. Two floors: trap + PTRACE_CONT, and the same with the register read and write every
 * server does to move the pc (PTRACE_GETREGS + PTRACE_SETREGS). The child times its own loop,
 * so the figure is what the hitting thread loses per hit.
 *
 *     cc -O2 -o ptrace_floor bench/ptrace_floor.c && ./ptrace_floor 20000
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double run(long n, int with_registers) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) exit(1);
  pid_t child = fork();
  if (child == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    double start = now_ns();
    for (long i = 0; i < n; ++i) __asm__ volatile("int3");
    double per_hit = (now_ns() - start) / (double)n;
    if (write(pipe_fds[1], &per_hit, sizeof per_hit) != sizeof per_hit) _exit(2);
    _exit(0);
  }
  int status;
  waitpid(child, &status, 0); /* the SIGSTOP */
  ptrace(PTRACE_CONT, child, 0, 0);
  for (;;) {
    if (waitpid(child, &status, 0) != child || WIFEXITED(status)) break;
    if (with_registers) {
      struct user_regs_struct regs;
      ptrace(PTRACE_GETREGS, child, 0, &regs);
      ptrace(PTRACE_SETREGS, child, 0, &regs); /* the pc stays past the int3 */
    }
    ptrace(PTRACE_CONT, child, 0, 0); /* the SIGTRAP is not delivered */
  }
  double per_hit = 0;
  if (read(pipe_fds[0], &per_hit, sizeof per_hit) != sizeof per_hit) return -1;
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  return per_hit;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 20000;
  printf("trap+cont %.2f us\n", run(n, 0) / 1000);
  printf("trap+getregs+setregs+cont %.2f us\n", run(n, 1) / 1000);
  return 0;
}
