#include "target/terminal.hpp"

#include <signal.h>
#include <termios.h>
#include <unistd.h>

namespace gostub::target {

void give_terminal(int fd, pid_t process_group) {
  if (!::isatty(fd)) return;
  sigset_t block, previous;
  sigemptyset(&block);
  sigaddset(&block, SIGTTOU);
  ::sigprocmask(SIG_BLOCK, &block, &previous);
  ::tcsetpgrp(fd, process_group);
  ::sigprocmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace gostub::target
