// Host I/O for vFile packets: gdb reads the program, its libraries and /proc files through
// the server, so a client needs no local copy of a program that runs in a container. Read-only
// on purpose: a debug server that lets any client write files is a larger attack surface than
// debugging needs.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "protocol/commands.hpp"

namespace gostub::server {

class HostFiles {
 public:
  ~HostFiles();
  // Each returns the whole reply payload.
  std::string set_filesystem(const protocol::HostSetFs& command);
  std::string open(const protocol::HostOpen& command);
  std::string pread(const protocol::HostPread& command, std::size_t max_bytes);
  std::string close(const protocol::HostClose& command);
  std::string fstat(const protocol::HostFstat& command);
  std::string readlink(const protocol::HostReadlink& command);

 private:
  std::string resolve(const std::string& path) const;

  pid_t filesystem_pid_ = 0;                        // 0: gostub's own view of the filesystem
  static constexpr std::size_t kMaxOpenFiles = 64;  // more: EMFILE (gdb holds a few at a time)
  std::map<int, int> open_files_;                   // descriptors handed out to the client -> ours
  std::string buffer_;
};

}  // namespace gostub::server
