#include "server/debug_log.hpp"

#include <chrono>

namespace gostub::server {

DebugLog& debug_log() {
  static DebugLog log;
  return log;
}

bool DebugLog::enabled(Component component) const {
  switch (component) {
    case Component::kThreads:
      return threads_;
    case Component::kRemote:
      return remote_;
    case Component::kEventLoop:
      return event_loop_;
  }
  return false;
}

void DebugLog::enable(Component component, bool on) {
  switch (component) {
    case Component::kThreads:
      threads_ = on;
      break;
    case Component::kRemote:
      remote_ = on;
      break;
    case Component::kEventLoop:
      event_loop_ = on;
      break;
  }
}

bool DebugLog::open_file(const std::string& path) {
  std::FILE* opened = std::fopen(path.c_str(), "we");
  if (opened == nullptr) return false;
  if (file_ != nullptr) std::fclose(file_);
  std::setvbuf(opened, nullptr, _IOLBF, 0);
  file_ = opened;
  return true;
}

void DebugLog::write(Component component, std::string_view text) {
  std::FILE* out = file_ != nullptr ? file_ : stderr;
  std::string line;
  if (timestamps_) {
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    line = fmt::format("{}.{:06} ", now.count() / 1000000, now.count() % 1000000);
  }
  constexpr std::string_view kNames[] = {"threads", "remote", "event-loop"};
  line += fmt::format("[{}] {}", kNames[static_cast<int>(component)], text);
  if (line.back() != '\n') line += '\n';
  std::fputs(line.c_str(), out);
}

}  // namespace gostub::server
