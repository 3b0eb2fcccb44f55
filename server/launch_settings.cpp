#include "server/launch_settings.hpp"

#include <algorithm>

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

bool LaunchSettings::apply(const protocol::SetLaunchSetting& setting) {
  using What = protocol::SetLaunchSetting::What;
  auto& environment = options_.environment;
  if (!environment &&
      (setting.what == What::kEnvironmentSet || setting.what == What::kEnvironmentUnset)) {
    environment = own_environment();
  }
  switch (setting.what) {
    case What::kStdin:
      options_.stdin_path = setting.value;
      break;
    case What::kStdout:
      options_.stdout_path = setting.value;
      break;
    case What::kStderr:
      options_.stderr_path = setting.value;
      break;
    case What::kWorkingDirectory:
      options_.working_directory = setting.value;
      break;
    case What::kDisableAslr:
      options_.disable_address_randomization = setting.value != "0";
      break;
    case What::kEnvironmentSet: {
      const auto equals = setting.value.find('=');
      if (equals == std::string::npos || equals == 0) return false;
      unset(*environment, std::string_view(setting.value).substr(0, equals));
      environment->push_back(setting.value);
      break;
    }
    case What::kEnvironmentUnset:
      unset(*environment, setting.value);
      break;
    case What::kEnvironmentReset:
      environment.reset();
      break;
    case What::kLaunchArch:
      return setting.value == "x86_64" || setting.value == "amd64" ||
             setting.value.starts_with("x86_64-");
  }
  return true;
}

target::LaunchOptions LaunchSettings::options(std::vector<std::string> argv, bool lldb) {
  options_.argv = argv;
  auto options = options_;
  // lldb's launches, as lldb-server's, neither go through a shell nor take the terminal.
  if (lldb) {
    options.startup_with_shell = false;
    options.take_terminal = false;
  }
  options.argv = std::move(argv);
  return options;
}

}  // namespace gostub::server
