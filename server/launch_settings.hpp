// What the client sets before it starts a program (QEnvironment…, QSetWorkingDir, QSetSTDIN/
// STDOUT/STDERR, QSetDisableASLR, QLaunchArch): kept for the next vRun or A packet.
#pragma once

#include <string>
#include <vector>

#include "protocol/commands.hpp"
#include "target/process.hpp"

namespace gostub::server {

class LaunchSettings {
 public:
  // `defaults`: how gostub was told to start programs (--wrapper, --startup-with-shell,
  // --disable-randomization); the client's packets change them for its session.
  explicit LaunchSettings(target::LaunchOptions defaults = {}) : options_(std::move(defaults)) {}
  // false when the setting is malformed or asks for what gostub cannot do.
  bool apply(const protocol::SetLaunchSetting& setting);
  // Options to launch `argv` with these settings.
  // lldb-server starts programs without a shell (lldb expands arguments itself). The argv
  // is remembered for a restart (R).
  target::LaunchOptions options(std::vector<std::string> argv, bool lldb = false);
  // The last program started (or the one gostub was started with), for R; empty: none.
  const std::vector<std::string>& last_argv() const { return options_.argv; }
  // lldb's A answers OK and tells the outcome on qLaunchSuccess.
  std::string& last_error() { return last_error_; }

 private:
  target::LaunchOptions options_;
  std::string last_error_;
};

}  // namespace gostub::server
