#include "server/osdata.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fmt/format.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <initializer_list>
#include <map>
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

std::vector<int> numbered_entries(const std::string& directory) {
  std::vector<int> numbers;
  if (DIR* dir = ::opendir(directory.c_str())) {
    while (const dirent* entry = ::readdir(dir)) {
      const int number = std::atoi(entry->d_name);
      if (number > 0) numbers.push_back(number);
    }
    ::closedir(dir);
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

// The kernel's name of a process (stat's comm), as gdbserver's command columns show it.
std::string command_name(int pid) {
  const auto stat = read_file(fmt::format("/proc/{}/stat", pid));
  const auto open = stat.find('(');
  const auto close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return {};
  return stat.substr(open + 1, close - open - 1);
}

std::string command_line(int pid) {
  auto command = read_file(fmt::format("/proc/{}/cmdline", pid));
  while (!command.empty() && command.back() == '\0') command.pop_back();
  std::replace(command.begin(), command.end(), '\0', ' ');
  return command;
}

// One osdata document: rows of (column, value) pairs.
class Document {
 public:
  explicit Document(std::string_view type) {
    xml_ = fmt::format(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"osdata.dtd\">\n<osdata type=\"{}\">\n",
        type);
  }
  void row(std::initializer_list<std::pair<std::string_view, std::string>> columns) {
    row<decltype(columns)>(columns);
  }
  // Columns known only at run time (cpus: whatever /proc/cpuinfo lists).
  template <typename Columns>
  void row(const Columns& columns) {
    xml_ += "<item>\n";
    for (const auto& [name, value] : columns) {
      xml_ += fmt::format("<column name=\"{}\">{}</column>\n", protocol::xml_escape(name),
                          protocol::xml_escape(value));
    }
    xml_ += "</item>\n";
  }
  std::string finish() { return std::move(xml_) + "</osdata>\n"; }

 private:
  std::string xml_;
};

std::string processes() {
  Document document("processes");
  for (const int pid : numbered_entries("/proc")) {
    struct stat status {};
    if (::stat(fmt::format("/proc/{}", pid).c_str(), &status) != 0) continue;  // gone
    document.row({{"pid", std::to_string(pid)},
                  {"user", user_name(status.st_uid)},
                  {"command", command_line(pid)},
                  {"cores", last_core(pid)}});
  }
  return document.finish();
}

std::string process_groups() {
  std::vector<std::pair<int, int>> members;  // (pgid, pid)
  for (const int pid : numbered_entries("/proc")) {
    const int group = ::getpgid(pid);
    if (group > 0) members.emplace_back(group, pid);
  }
  std::sort(members.begin(), members.end());
  Document document("process groups");
  for (const auto& [group, pid] : members) {
    document.row({{"pgid", std::to_string(group)},
                  {"leader command", command_name(group)},
                  {"pid", std::to_string(pid)},
                  {"command line", command_line(pid)}});
  }
  return document.finish();
}

std::string threads() {
  Document document("threads");
  for (const int pid : numbered_entries("/proc")) {
    const auto command = command_name(pid);
    for (const int tid : numbered_entries(fmt::format("/proc/{}/task", pid))) {
      const auto stat = read_file(fmt::format("/proc/{}/task/{}/stat", pid, tid));
      const auto name_end = stat.rfind(')');
      std::string core;
      if (name_end != std::string::npos) {
        std::istringstream fields(stat.substr(name_end + 2));
        for (int i = 0; i <= 39 - 3 && fields >> core; ++i) {
        }
      }
      document.row({{"pid", std::to_string(pid)},
                    {"command", command},
                    {"tid", std::to_string(tid)},
                    {"core", core}});
    }
  }
  return document.finish();
}

std::string files() {
  Document document("files");
  for (const int pid : numbered_entries("/proc")) {
    const auto command = command_name(pid);
    for (const int fd : numbered_entries(fmt::format("/proc/{}/fd", pid))) {
      char target[PATH_MAX];
      const auto length =
          ::readlink(fmt::format("/proc/{}/fd/{}", pid, fd).c_str(), target, sizeof target - 1);
      document.row({{"pid", std::to_string(pid)},
                    {"command", command},
                    {"file descriptor", std::to_string(fd)},
                    {"name", length > 0 ? std::string(target, static_cast<std::size_t>(length))
                                        : std::string()}});
    }
  }
  return document.finish();
}

// /proc/net/{tcp,udp}[6]: "sl local:port remote:port st … uid", addresses in the kernel's
// byte order.
void sockets_of(Document& document, const char* path, int family, const char* protocol) {
  static constexpr const char* kStates[] = {"",           "ESTABLISHED", "SYN_SENT",  "SYN_RECV",
                                            "FIN_WAIT1",  "FIN_WAIT2",   "TIME_WAIT", "CLOSE",
                                            "CLOSE_WAIT", "LAST_ACK",    "LISTEN",    "CLOSING"};
  std::istringstream lines(read_file(path));
  std::string line;
  std::getline(lines, line);  // the header
  const auto address = [family](const std::string& hex) {
    unsigned char bytes[16] = {};
    const std::size_t count = family == AF_INET ? 4 : 16;
    for (std::size_t word = 0; word < count / 4 && hex.size() >= (word + 1) * 8; ++word) {
      const auto value =
          static_cast<std::uint32_t>(std::stoul(hex.substr(word * 8, 8), nullptr, 16));
      std::memcpy(bytes + word * 4, &value, 4);  // each word in the host's order
    }
    char text[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(family, bytes, text, sizeof text);
    return std::string(text);
  };
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits;
    unsigned uid = 0;
    if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid)) {
      continue;
    }
    const auto local_colon = local.find(':');
    const auto remote_colon = remote.find(':');
    if (local_colon == std::string::npos || remote_colon == std::string::npos) continue;
    const auto state_number = std::stoul(state, nullptr, 16);
    document.row(
        {{"local address", address(local.substr(0, local_colon))},
         {"local port", std::to_string(std::stoul(local.substr(local_colon + 1), nullptr, 16))},
         {"remote address", address(remote.substr(0, remote_colon))},
         {"remote port", std::to_string(std::stoul(remote.substr(remote_colon + 1), nullptr, 16))},
         {"state", state_number < std::size(kStates) ? kStates[state_number] : "UNKNOWN"},
         {"user", user_name(uid)},
         {"family", family == AF_INET ? "INET" : "INET6"},
         {"protocol", protocol}});
  }
}

std::string sockets() {
  Document document("I sockets");
  sockets_of(document, "/proc/net/tcp", AF_INET, "STREAM");
  sockets_of(document, "/proc/net/udp", AF_INET, "DGRAM");
  sockets_of(document, "/proc/net/tcp6", AF_INET6, "STREAM");
  sockets_of(document, "/proc/net/udp6", AF_INET6, "DGRAM");
  return document.finish();
}

std::string group_name(gid_t gid) {
  if (const group* entry = ::getgrgid(gid)) return entry->gr_name;
  return std::to_string(gid);
}

std::string local_time(long seconds) {
  if (seconds == 0) return {};
  const auto time = static_cast<std::time_t>(seconds);
  std::tm broken{};
  ::localtime_r(&time, &broken);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &broken);
  return text;
}

// /proc/sysvipc/{shm,sem,msg}: a header line naming the columns, then one line per object.
template <typename Row>
void sysv_objects(const char* path, Row row) {
  std::istringstream lines(read_file(path));
  std::string line;
  std::getline(lines, line);
  std::istringstream header(line);
  std::vector<std::string> names;
  for (std::string name; header >> name;) names.push_back(name);
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::map<std::string, std::string> values;
    for (const auto& name : names) fields >> values[name];
    row(values);
  }
}

// /proc/sysvipc writes the mode in octal already ("666"), as gdb shows it.
std::string octal_permissions(const std::string& perms) {
  return fmt::format("{:o}", std::stoul(perms.empty() ? "0" : perms, nullptr, 8) & 0777);
}

long number(const std::string& text) {
  return text.empty() ? 0 : std::stol(text);
}

std::string shared_memory() {
  Document document("shared memory");
  sysv_objects("/proc/sysvipc/shm", [&](std::map<std::string, std::string>& v) {
    document.row({{"key", v["key"]},
                  {"shmid", v["shmid"]},
                  {"permissions", octal_permissions(v["perms"])},
                  {"size", v["size"]},
                  {"creator command", command_name(static_cast<int>(number(v["cpid"])))},
                  {"last op. command", command_name(static_cast<int>(number(v["lpid"])))},
                  {"num attached", v["nattch"]},
                  {"user", user_name(static_cast<uid_t>(number(v["uid"])))},
                  {"group", group_name(static_cast<gid_t>(number(v["gid"])))},
                  {"creator user", user_name(static_cast<uid_t>(number(v["cuid"])))},
                  {"creator group", group_name(static_cast<gid_t>(number(v["cgid"])))},
                  {"last shmat() time", local_time(number(v["atime"]))},
                  {"last shmdt() time", local_time(number(v["dtime"]))},
                  {"last shmctl() time", local_time(number(v["ctime"]))}});
  });
  return document.finish();
}

std::string semaphores() {
  Document document("semaphores");
  sysv_objects("/proc/sysvipc/sem", [&](std::map<std::string, std::string>& v) {
    document.row({{"key", v["key"]},
                  {"semid", v["semid"]},
                  {"permissions", octal_permissions(v["perms"])},
                  {"num semaphores", v["nsems"]},
                  {"user", user_name(static_cast<uid_t>(number(v["uid"])))},
                  {"group", group_name(static_cast<gid_t>(number(v["gid"])))},
                  {"creator user", user_name(static_cast<uid_t>(number(v["cuid"])))},
                  {"creator group", group_name(static_cast<gid_t>(number(v["cgid"])))},
                  {"last semop() time", local_time(number(v["otime"]))},
                  {"last semctl() time", local_time(number(v["ctime"]))}});
  });
  return document.finish();
}

std::string message_queues() {
  Document document("message queues");
  sysv_objects("/proc/sysvipc/msg", [&](std::map<std::string, std::string>& v) {
    document.row({{"key", v["key"]},
                  {"msqid", v["msqid"]},
                  {"permissions", octal_permissions(v["perms"])},
                  {"num used bytes", v["cbytes"]},
                  {"num messages", v["qnum"]},
                  {"last msgsnd() command", command_name(static_cast<int>(number(v["lspid"])))},
                  {"last msgrcv() command", command_name(static_cast<int>(number(v["lrpid"])))},
                  {"user", user_name(static_cast<uid_t>(number(v["uid"])))},
                  {"group", group_name(static_cast<gid_t>(number(v["gid"])))},
                  {"creator user", user_name(static_cast<uid_t>(number(v["cuid"])))},
                  {"creator group", group_name(static_cast<gid_t>(number(v["cgid"])))},
                  {"last msgsnd() time", local_time(number(v["stime"]))},
                  {"last msgrcv() time", local_time(number(v["rtime"]))},
                  {"last msgctl() time", local_time(number(v["ctime"]))}});
  });
  return document.finish();
}

std::string modules() {
  Document document("modules");
  std::istringstream lines(read_file("/proc/modules"));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string name, size, uses, dependencies, status, address;
    if (!(fields >> name >> size >> uses >> dependencies >> status >> address)) continue;
    document.row({{"name", name},
                  {"size", size},
                  {"num uses", uses},
                  {"dependencies", dependencies},
                  {"status", status},
                  {"address", address}});
  }
  return document.finish();
}

// One item per processor, with every "name : value" line of /proc/cpuinfo as a column.
std::string cpus() {
  Document document("cpus");
  std::vector<std::pair<std::string, std::string>> processor;
  std::istringstream lines(read_file("/proc/cpuinfo"));
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    auto value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (name == "processor" && !processor.empty()) {
      document.row(processor);
      processor.clear();
    }
    if (name == "processor" || !processor.empty()) processor.emplace_back(name, value);
  }
  if (!processor.empty()) document.row(processor);
  return document.finish();
}

struct OsdataType {
  std::string_view type, description, title;
  std::string (*make)();
};

// gdbserver 13's types, in its order.
constexpr OsdataType kTypes[] = {
    {"cpus", "Listing of all cpus/cores on the system", "CPUs", cpus},
    {"files", "Listing of all file descriptors", "File descriptors", files},
    {"modules", "Listing of all loaded kernel modules", "Kernel modules", modules},
    {"msg", "Listing of all message queues", "Message queues", message_queues},
    {"processes", "Listing of all processes", "Processes", processes},
    {"procgroups", "Listing of all process groups", "Process groups", process_groups},
    {"semaphores", "Listing of all semaphores", "Semaphores", semaphores},
    {"shm", "Listing of all shared-memory regions", "Shared-memory regions", shared_memory},
    {"sockets", "Listing of all internet-domain sockets", "Sockets", sockets},
    {"threads", "Listing of all threads", "Threads", threads},
};

}  // namespace

std::optional<std::string> osdata_document(std::string_view type) {
  if (type.empty()) {
    Document document("types");
    for (const auto& known : kTypes) {
      document.row({{"Type", std::string(known.type)},
                    {"Description", std::string(known.description)},
                    {"Title", std::string(known.title)}});
    }
    return document.finish();
  }
  for (const auto& known : kTypes) {
    if (known.type == type) return known.make();
  }
  return std::nullopt;
}

}  // namespace gostub::server
