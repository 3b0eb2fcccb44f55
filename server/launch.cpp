// Programs started or attached by the client: gdb's extended-remote `run` (vRun) and `attach`
// (vAttach), lldb's launch (QEnvironment…, QSetSTDIN…, QSetWorkingDir, A, qLaunchSuccess).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "protocol/replies.hpp"
#include "server/gdb_session.hpp"

extern char** environ;

namespace gostub::server {

namespace {

std::vector<std::string> own_environment() {
  std::vector<std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry)
    out.emplace_back(*entry);
  return out;
}

void unset(std::vector<std::string>& environment, std::string_view name) {
  std::erase_if(environment, [&](const std::string& entry) {
    return entry.starts_with(name) && entry.size() > name.size() && entry[name.size()] == '=';
  });
}

}  // namespace

void GdbSession::adopt(std::unique_ptr<target::Process> process) {
  process_ = hooks_.replace_process(std::move(process));
  last_stop_.reset();
  other_stops_.clear();
  transfer_cache_.clear();
  catch_points_.clear();
  conditions_.clear();
  goroutines_.reset();
  goroutine_index_.clear();
  thread_lists_.reset();
  goroutine_reader_.reset();
  go_binary_.reset();
  go_binary_error_.clear();
  load_bias_.reset();
  told_allgs_.reset();
  asked_for_allgs_ = false;
  resumed_yet_ = false;
  resume_outstanding_ = false;
  general_thread_ = {std::nullopt, protocol::ThreadId::kAny};
  continue_thread_ = {std::nullopt, protocol::ThreadId::kAll};
  process_->set_pass_signals(pass_signals_);
  if (program_signals_) process_->set_program_signals(*program_signals_);
  apply_catches();
}

GdbSession::Reply GdbSession::handle(const protocol::SetLaunchSetting& command) {
  using What = protocol::SetLaunchSetting::What;
  auto& environment = launch_settings_.environment;
  if (!environment &&
      (command.what == What::kEnvironmentSet || command.what == What::kEnvironmentUnset)) {
    environment = own_environment();
  }
  switch (command.what) {
    case What::kStdin:
      launch_settings_.stdin_path = command.value;
      break;
    case What::kStdout:
      launch_settings_.stdout_path = command.value;
      break;
    case What::kStderr:
      launch_settings_.stderr_path = command.value;
      break;
    case What::kWorkingDirectory:
      launch_settings_.working_directory = command.value;
      break;
    case What::kDisableAslr:
      launch_settings_.disable_address_randomization = command.value != "0";
      break;
    case What::kEnvironmentSet: {
      const auto equals = command.value.find('=');
      if (equals == std::string::npos || equals == 0) return protocol::error_reply(EINVAL);
      unset(*environment, std::string_view(command.value).substr(0, equals));
      environment->push_back(command.value);
      break;
    }
    case What::kEnvironmentUnset:
      unset(*environment, command.value);
      break;
    case What::kEnvironmentReset:
      environment.reset();
      break;
    case What::kLaunchArch:
      if (command.value != "x86_64" && command.value != "amd64" &&
          !command.value.starts_with("x86_64-")) {
        return protocol::error_reply(EINVAL);
      }
      break;
  }
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::Run& command) {
  auto options = launch_settings_;
  options.argv = command.argv;
  if (options.argv.empty() || options.argv.front().empty()) {
    // gdb sends an empty name when it has no `set remote exec-file`: the program gostub knows.
    if (process_->executable().empty()) {
      launch_error_ = "no program: give one to gostub or `set remote exec-file` in gdb";
      fmt::print(stderr, "gostub: {}\n", launch_error_);
      if (command.lldb_style) return protocol::error_reply(ENOENT);
      return "E." + launch_error_;
    }
    if (options.argv.empty()) options.argv.emplace_back();
    options.argv.front() = process_->executable();
  }
  options.take_terminal = false;  // the client's terminal is elsewhere
  auto launched = target::Process::launch(options);
  if (!launched) {
    launch_error_ = launched.error().message;
    fmt::print(stderr, "gostub: {}\n", launch_error_);
    if (command.lldb_style) return protocol::error_reply(launched.error().code);
    return "E." + launch_error_;
  }
  launch_error_.clear();
  fmt::print(stderr, "Process {} created; pid = {}\n", (*launched)->executable(),
             (*launched)->pid());
  adopt(std::move(*launched));
  if (command.lldb_style) return std::string(protocol::kOk);  // the stop comes with `?`
  last_stop_ = target::StopEvent{target::StopEvent::Kind::kSignal, process_->pid(), SIGTRAP, 0};
  return stop_reply(*last_stop_);
}

GdbSession::Reply GdbSession::handle(const protocol::QueryLaunchSuccess&) {
  if (!launch_error_.empty()) return "E" + launch_error_;
  return std::string(protocol::kOk);
}

GdbSession::Reply GdbSession::handle(const protocol::Attach& command) {
  auto attached = target::Process::attach(static_cast<pid_t>(command.pid));
  if (!attached) {
    fmt::print(stderr, "gostub: {}\n", attached.error().message);
    return lldb_client_ ? protocol::error_reply(attached.error().code)
                        : "E." + attached.error().message;
  }
  fmt::print(stderr, "Attached; pid = {}\n", command.pid);
  adopt(std::move(*attached));
  last_stop_ = target::StopEvent{target::StopEvent::Kind::kSignal, process_->pid(), SIGSTOP, 0};
  return stop_reply(*last_stop_);
}

}  // namespace gostub::server
