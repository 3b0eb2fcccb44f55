// The controlling terminal's foreground process group: the launched program takes it (so that
// Ctrl-C in the terminal reaches the program) and gostub takes it back at the end.
#pragma once

#include <sys/types.h>

namespace gostub::target {

// Makes `process_group` the foreground group of the terminal on `fd`, when `fd` is one.
// SIGTTOU is blocked meanwhile: a background group is otherwise stopped for trying.
// Async-signal-safe, so a child may call it between fork and exec.
void give_terminal(int fd, pid_t process_group);

}  // namespace gostub::target
