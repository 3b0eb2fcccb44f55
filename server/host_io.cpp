#include "server/host_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "protocol/replies.hpp"

namespace gostub::server {

namespace {
// gdb's File-I/O flag values (the RSP appendix, "Open Flags"), not the host's.
constexpr std::uint64_t kFileioAccessMask = 3;  // O_RDONLY 0, O_WRONLY 1, O_RDWR 2
constexpr std::uint64_t kFileioReadOnly = 0;
constexpr std::uint64_t kFileioWriteOnly = 1;
constexpr std::uint64_t kFileioReadWrite = 2;
constexpr std::uint64_t kFileioAppend = 0x8;
constexpr std::uint64_t kFileioCreate = 0x200;
constexpr std::uint64_t kFileioTruncate = 0x400;
constexpr std::uint64_t kFileioExclusive = 0x800;
constexpr std::uint64_t kFileioKnownFlags =
    kFileioAccessMask | kFileioAppend | kFileioCreate | kFileioTruncate | kFileioExclusive;
// Its mode values are POSIX's octal ones; only the permission bits matter to open().
constexpr std::uint64_t kFileioPermissionBits = 0777;

std::optional<int> host_open_flags(std::uint64_t fileio_flags) {
  if ((fileio_flags & ~kFileioKnownFlags) != 0) return std::nullopt;
  int flags = 0;
  switch (fileio_flags & kFileioAccessMask) {
    case kFileioReadOnly:
      flags = O_RDONLY;
      break;
    case kFileioWriteOnly:
      flags = O_WRONLY;
      break;
    case kFileioReadWrite:
      flags = O_RDWR;
      break;
    default:
      return std::nullopt;
  }
  if (fileio_flags & kFileioAppend) flags |= O_APPEND;
  if (fileio_flags & kFileioCreate) flags |= O_CREAT;
  if (fileio_flags & kFileioTruncate) flags |= O_TRUNC;
  if (fileio_flags & kFileioExclusive) flags |= O_EXCL;
  return flags;
}
}  // namespace

HostFiles::~HostFiles() {
  for (const auto& [client_fd, file] : open_files_) {
    ::close(file.fd);
    if (file.overlay) ::close(file.overlay->tail_fd);
  }
}

std::string HostFiles::resolve(const std::string& path) const {
  // Another process's filesystem (gdb's "setfs" for a program in a container) is reached
  // through its /proc root; /proc itself is ours, as the pids gdb names are.
  if (filesystem_pid_ == 0 || path.empty() || path.front() != '/' || path.starts_with("/proc/")) {
    return path;
  }
  return "/proc/" + std::to_string(filesystem_pid_) + "/root" + path;
}

std::string HostFiles::set_filesystem(const protocol::HostSetFs& command) {
  if (command.pid != 0 && ::access(("/proc/" + std::to_string(command.pid)).c_str(), F_OK) != 0) {
    return protocol::host_io_error(ESRCH);
  }
  filesystem_pid_ = static_cast<pid_t>(command.pid);
  return protocol::host_io_result(0);
}

std::string HostFiles::open(const protocol::HostOpen& command) {
  return open(command, std::nullopt);
}

std::string HostFiles::open(const protocol::HostOpen& command,
                            const std::optional<FileOverlay>& overlay) {
  const auto flags = host_open_flags(command.flags);
  if (!flags) return protocol::host_io_error(EINVAL);
  // A client may hold only so many files (each is a descriptor of gostub's), and no open or
  // read may block the event loop: a FIFO or a terminal is opened non-blocking.
  if (open_files_.size() >= kMaxOpenFiles) return protocol::host_io_error(EMFILE);
  // The overlay is what a reader sees; a writer gets the file itself.
  const bool overlaid = overlay && *flags == O_RDONLY;
  const auto path = overlaid ? overlay->file : resolve(command.path);
  const int fd = ::open(path.c_str(), *flags | O_CLOEXEC | O_NONBLOCK,
                        static_cast<mode_t>(command.mode & kFileioPermissionBits));
  if (fd < 0) return protocol::host_io_error(errno);
  OpenFile file{fd, std::nullopt};
  if (overlaid) {
    const int tail = ::fcntl(overlay->tail_fd, F_DUPFD_CLOEXEC, 0);
    if (tail < 0) {
      const int error = errno;
      ::close(fd);
      return protocol::host_io_error(error);
    }
    file.overlay = FileOverlay{overlay->file, overlay->head, tail, overlay->tail_start};
  }
  open_files_[fd] = std::move(file);
  return protocol::host_io_result(fd);
}

std::string HostFiles::pread(const protocol::HostPread& command, std::size_t max_bytes) {
  const auto found = open_files_.find(static_cast<int>(command.fd));
  if (found == open_files_.end()) return protocol::host_io_error(EBADF);
  if (command.offset > static_cast<std::uint64_t>(LLONG_MAX))
    return protocol::host_io_error(EINVAL);
  buffer_.resize(std::min<std::uint64_t>(command.count, max_bytes));
  const auto& file = found->second;
  if (!file.overlay) {
    const auto got =
        ::pread(file.fd, buffer_.data(), buffer_.size(), static_cast<off_t>(command.offset));
    if (got < 0) return protocol::host_io_error(errno);
    return protocol::host_io_result(
        got, std::string_view(buffer_.data(), static_cast<std::size_t>(got)));
  }
  // Piece by piece: the replaced head, the file up to the tail, the tail.
  const auto& overlay = *file.overlay;
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const auto at = command.offset + done;
    char* into = buffer_.data() + done;
    const auto wanted = buffer_.size() - done;
    ssize_t got = 0;
    if (at < overlay.head.size()) {
      got = static_cast<ssize_t>(std::min<std::uint64_t>(wanted, overlay.head.size() - at));
      std::memcpy(into, overlay.head.data() + at, static_cast<std::size_t>(got));
    } else if (at < overlay.tail_start) {
      got = ::pread(file.fd, into, std::min<std::uint64_t>(wanted, overlay.tail_start - at),
                    static_cast<off_t>(at));
    } else {
      got = ::pread(overlay.tail_fd, into, wanted, static_cast<off_t>(at - overlay.tail_start));
    }
    if (got < 0) return protocol::host_io_error(errno);
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return protocol::host_io_result(static_cast<std::int64_t>(done),
                                  std::string_view(buffer_.data(), done));
}

std::string HostFiles::pwrite(const protocol::HostPwrite& command) {
  const auto found = open_files_.find(static_cast<int>(command.fd));
  if (found == open_files_.end()) return protocol::host_io_error(EBADF);
  if (command.offset > static_cast<std::uint64_t>(LLONG_MAX))
    return protocol::host_io_error(EINVAL);
  // An overlaid file was opened read-only: pwrite fails with EBADF, as it should.
  const auto wrote = ::pwrite(found->second.fd, command.data.data(), command.data.size(),
                              static_cast<off_t>(command.offset));
  if (wrote < 0) return protocol::host_io_error(errno);
  return protocol::host_io_result(wrote);
}

std::string HostFiles::unlink(const protocol::HostUnlink& command) {
  if (::unlink(resolve(command.path).c_str()) != 0) return protocol::host_io_error(errno);
  return protocol::host_io_result(0);
}

std::string HostFiles::close(const protocol::HostClose& command) {
  const auto found = open_files_.find(static_cast<int>(command.fd));
  if (found == open_files_.end()) return protocol::host_io_error(EBADF);
  ::close(found->second.fd);
  if (found->second.overlay) ::close(found->second.overlay->tail_fd);
  open_files_.erase(found);
  return protocol::host_io_result(0);
}

std::string HostFiles::fstat(const protocol::HostFstat& command) {
  const auto found = open_files_.find(static_cast<int>(command.fd));
  if (found == open_files_.end()) return protocol::host_io_error(EBADF);
  struct stat info {};
  if (::fstat(found->second.fd, &info) != 0) return protocol::host_io_error(errno);
  if (const auto& overlay = found->second.overlay) {
    struct stat tail {};
    if (::fstat(overlay->tail_fd, &tail) != 0) return protocol::host_io_error(errno);
    info.st_size = static_cast<off_t>(overlay->tail_start) + tail.st_size;
  }
  const protocol::FileStatus status{
      static_cast<std::uint32_t>(info.st_dev),     static_cast<std::uint32_t>(info.st_ino),
      static_cast<std::uint32_t>(info.st_mode),    static_cast<std::uint32_t>(info.st_nlink),
      static_cast<std::uint32_t>(info.st_uid),     static_cast<std::uint32_t>(info.st_gid),
      static_cast<std::uint32_t>(info.st_rdev),    static_cast<std::uint64_t>(info.st_size),
      static_cast<std::uint64_t>(info.st_blksize), static_cast<std::uint64_t>(info.st_blocks),
      static_cast<std::uint32_t>(info.st_atime),   static_cast<std::uint32_t>(info.st_mtime),
      static_cast<std::uint32_t>(info.st_ctime)};
  const auto encoded = protocol::encode_file_status(status);
  return protocol::host_io_result(static_cast<std::int64_t>(encoded.size()), encoded);
}

std::string HostFiles::readlink(const protocol::HostReadlink& command) {
  char target[PATH_MAX];
  const auto length = ::readlink(resolve(command.path).c_str(), target, sizeof target);
  if (length < 0) return protocol::host_io_error(errno);
  return protocol::host_io_result(length,
                                  std::string_view(target, static_cast<std::size_t>(length)));
}

}  // namespace gostub::server
