// Host I/O for vFile packets: gdb reads the program, its libraries and /proc files through
// the server, so a client needs no local copy of a program that runs in a container, and
// `remote put`/`remote get`/`remote delete` move files as with gdbserver. Writing adds no power
// a client lacks: one that can write the program's memory and registers can already make it
// write any file. Files are opened with gostub's own credentials, as gdbserver's are.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "protocol/commands.hpp"

namespace gostub::server {

// A file served as another file with its first bytes replaced and a tail appended (a stripped
// program served with the symbols gostub rebuilt: see symbols::SymbolOverlay).
struct FileOverlay {
  std::string file;  // the file overlaid (as gostub names it: no setfs applies)
  std::string head;  // replaces the file's first head.size() bytes
  int tail_fd = -1;  // read from offset 0, appended at tail_start
  std::uint64_t tail_start = 0;
};

class HostFiles {
 public:
  ~HostFiles();
  // Each returns the whole reply payload.
  std::string set_filesystem(const protocol::HostSetFs& command);
  std::string open(const protocol::HostOpen& command);
  // The file named, read as the overlay says.
  std::string open(const protocol::HostOpen& command, const std::optional<FileOverlay>& overlay);
  std::string pread(const protocol::HostPread& command, std::size_t max_bytes);
  std::string pwrite(const protocol::HostPwrite& command);
  std::string unlink(const protocol::HostUnlink& command);
  std::string close(const protocol::HostClose& command);
  std::string fstat(const protocol::HostFstat& command);
  std::string readlink(const protocol::HostReadlink& command);

 private:
  std::string resolve(const std::string& path) const;

  pid_t filesystem_pid_ = 0;                        // 0: gostub's own view of the filesystem
  static constexpr std::size_t kMaxOpenFiles = 64;  // more: EMFILE (gdb holds a few at a time)
  struct OpenFile {
    int fd = -1;
    std::optional<FileOverlay> overlay;  // its tail_fd is our own duplicate
  };
  std::map<int, OpenFile> open_files_;  // descriptors handed out to the client -> ours
  std::string buffer_;
};

}  // namespace gostub::server
