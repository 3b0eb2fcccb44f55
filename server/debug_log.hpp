// gdbserver's debugging output, switched by --debug, --remote-debug, --event-loop-debug and
// their `monitor set` forms: one per server process (the switches change while it runs), and
// written where --debug-file says. Each line is tagged with its component, as gdbserver does
// ("[remote] …"), after a timestamp when --debug-format asks for one.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <string_view>

namespace gostub::server {

class DebugLog {
 public:
  enum class Component : std::uint8_t { kThreads, kRemote, kEventLoop };

  bool enabled(Component component) const;
  void enable(Component component, bool on);
  void set_timestamps(bool on) { timestamps_ = on; }
  bool timestamps() const { return timestamps_; }
  // --debug-file: false when the file cannot be opened (the output stays where it was).
  bool open_file(const std::string& path);

  template <typename... Args>
  void print(Component component, fmt::format_string<Args...> format, Args&&... args) {
    if (enabled(component)) write(component, fmt::format(format, std::forward<Args>(args)...));
  }

 private:
  void write(Component component, std::string_view text);

  bool threads_ = false;     // --debug, `monitor set debug`: launches, stops, resumes
  bool remote_ = false;      // --remote-debug: every packet
  bool event_loop_ = false;  // --event-loop-debug: what woke the loop
  bool timestamps_ = false;
  std::FILE* file_ = nullptr;  // nullptr: stderr
};

DebugLog& debug_log();

}  // namespace gostub::server
