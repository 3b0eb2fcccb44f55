#include "server/osdata.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "protocol/hex.hpp"

namespace gostub::server {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string user_name(uid_t uid) {
  if (const passwd* entry = ::getpwuid(uid)) return entry->pw_name;
  return std::to_string(uid);
}

// The processor a process last ran on (proc(5) stat field 39), or empty.
std::string last_core(int pid) {
  const auto stat = read_file(fmt::format("/proc/{}/stat", pid));
  const auto name_end = stat.rfind(')');
  if (name_end == std::string::npos) return {};
  std::istringstream fields(stat.substr(name_end + 2));
  std::string field;
  for (int i = 0; i <= 39 - 3; ++i) {
    if (!(fields >> field)) return {};
  }
  return field;
}

std::string processes() {
  std::vector<int> pids;
  if (DIR* dir = ::opendir("/proc")) {
    while (const dirent* entry = ::readdir(dir)) {
      const int pid = std::atoi(entry->d_name);
      if (pid > 0) pids.push_back(pid);
    }
    ::closedir(dir);
  }
  std::sort(pids.begin(), pids.end());
  std::string xml =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"osdata.dtd\">\n"
      "<osdata type=\"processes\">\n";
  for (const int pid : pids) {
    struct stat status {};
    if (::stat(fmt::format("/proc/{}", pid).c_str(), &status) != 0) continue;  // gone
    auto command = read_file(fmt::format("/proc/{}/cmdline", pid));
    while (!command.empty() && command.back() == '\0') command.pop_back();
    std::replace(command.begin(), command.end(), '\0', ' ');
    xml += fmt::format(
        "<item>\n<column name=\"pid\">{}</column>\n<column name=\"user\">{}</column>\n"
        "<column name=\"command\">{}</column>\n<column name=\"cores\">{}</column>\n</item>\n",
        pid, protocol::xml_escape(user_name(status.st_uid)), protocol::xml_escape(command),
        last_core(pid));
  }
  return xml + "</osdata>\n";
}

}  // namespace

std::optional<std::string> osdata_document(std::string_view type) {
  if (type.empty()) {
    return "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"osdata.dtd\">\n"
           "<osdata type=\"types\">\n<item>\n<column name=\"Type\">processes</column>\n"
           "<column name=\"Description\">Listing of all processes</column>\n"
           "<column name=\"Title\">Processes</column>\n</item>\n</osdata>\n";
  }
  if (type == "processes") return processes();
  return std::nullopt;
}

}  // namespace gostub::server
