// gostub's monitor commands (gdb's `monitor …`, lldb's `process plugin packet monitor …`):
// the Go binary, function look-ups from pclntab, catch settings, goroutines. The answer is
// console text; the session sends it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "server/client_thread.hpp"
#include "server/go_state.hpp"
#include "server/program.hpp"

namespace gostub::server {

class MonitorCommands {
 public:
  explicit MonitorCommands(GoSettings& settings) : settings_(settings) {}

  struct Outcome {
    std::string console;
    bool exit = false;             // `monitor exit`: end gostub after the reply
    bool threads_changed = false;  // goroutine threads turned on or off
    bool unknown = false;          // gdbserver answers an unknown command with E01 after the text
  };
  // `program` is nullptr before there is one; `selected` marks the current goroutine.
  Outcome run(std::string_view text, Program* program, std::optional<ClientThread> selected);
  // gdbserver finds thread-local storage through libthread_db, which `monitor set
  // libthread-db-search-path` picks; gostub reads it without one, but a path where no
  // libthread_db can be found means, as for gdbserver, that there is none: false then.
  bool thread_db_found() const;

 private:
  std::string info(Program& program, GoState& go);
  std::string eval(GoState& go, std::string_view expression);
  std::string catch_settings(GoState* go, std::string_view arguments);
  std::string set(std::string_view arguments, Outcome& out);
  // monitor_goroutines.cpp
  std::string goroutines(GoState& go, std::string_view arguments,
                         std::optional<ClientThread> selected);
  std::string goroutine(GoState& go, std::string_view arguments);
  // monitor_print.cpp
  std::string print(Program& program, GoState& go, std::string_view arguments,
                    std::optional<ClientThread> selected);

  GoSettings& settings_;
  static constexpr std::string_view kDefaultThreadDbPath = "$pdir:$sdir";  // gdbserver's
  std::string thread_db_search_path_{kDefaultThreadDbPath};
};

}  // namespace gostub::server
