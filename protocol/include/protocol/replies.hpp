// Reply encoding: the payloads the server sends back (framing is framing.hpp's job).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gostub::protocol {

inline constexpr std::string_view kOk = "OK";

// Named errno values sent as "Exx": the number is the host errno, as gdbserver sends it.
std::string error_reply(int errno_value);

// A stop reply (the answer to ?, vCont, c, s and an interrupt).
struct StopReply {
  // kThreadExited: "w" (a thread's exit, with QThreadEvents); kNoResumed: "N" (nothing the
  // client resumed is left to report).
  enum class Kind : std::uint8_t { kSignal, kExited, kTerminated, kThreadExited, kNoResumed };
  Kind kind = Kind::kSignal;
  int signal = 0;     // gdb's numbering; for kTerminated, the killing signal
  int exit_code = 0;  // for kExited
  std::int64_t pid = 0;
  std::int64_t tid = 0;
  int core = -1;
  bool software_breakpoint = false;  // "swbreak:" (sent only when the client said swbreak+)
  bool hardware_breakpoint = false;  // "hwbreak:" (sent only when the client said hwbreak+)
  // A watchpoint hit: "watch:", "rwatch:" or "awatch:" with the data address.
  enum class Watch : std::uint8_t { kNone, kWrite, kRead, kAccess };
  Watch watch = Watch::kNone;
  std::uint64_t watch_address = 0;
  // Registers sent along so the client needs no round trip: (regno, raw little-endian bytes).
  std::vector<std::pair<std::uint32_t, std::string>> expedited;
  // Further "key:value;" pairs, in order (lldb's hexname, threads, thread-pcs, reason).
  std::vector<std::pair<std::string, std::string>> extra;
  // gdbserver's --disable-packet: Tthread drops "thread:", T sends "S" + signal alone.
  bool with_thread = true;
  bool signal_only = false;
};
std::string encode_stop_reply(const StopReply& stop, bool multiprocess);

// lldb's description of a watchpoint stop ("reason:watchpoint;description:…"), hex-encoded as
// lldb-server sends it: the watched address, the slot index and the address hit, in decimal.
// Without a known hit address lldb takes the watched one.
std::string lldb_watchpoint_description(std::uint64_t address, int index,
                                        std::optional<std::uint64_t> hit_address);

// One chunk of a qXfer object: 'm' + data when more follows, 'l' + data for the last one.
std::string transfer_chunk(std::string_view document, std::uint64_t offset, std::uint64_t length);

// Host I/O replies: "F" RESULT [";" binary attachment], or "F-1," ERRNO in gdb's fileio
// numbering (host errno values are translated).
std::string host_io_result(std::int64_t result);
std::string host_io_result(std::int64_t result, std::string_view attachment);
std::string host_io_error(int host_errno);
// struct stat in gdb's fileio layout (64 bytes, big-endian).
struct FileStatus {
  std::uint32_t device, inode, mode, links, uid, gid, rdevice;
  std::uint64_t size, block_size, blocks;
  std::uint32_t access_time, modify_time, change_time;
};
std::string encode_file_status(const FileStatus& status);

// "O" + hex: console output that the client prints (qRcmd answers, notices).
std::string console_output(std::string_view text);

}  // namespace gostub::protocol
