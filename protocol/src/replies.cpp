#include "protocol/replies.hpp"

#include "protocol/commands.hpp"
#include "protocol/framing.hpp"
#include "protocol/hex.hpp"

namespace gostub::protocol {

std::string error_reply(int errno_value) {
  std::string out = "E";
  append_hex_byte(out, static_cast<std::uint8_t>(errno_value & 0xff));
  return out;
}

std::string encode_stop_reply(const StopReply& stop, bool multiprocess) {
  std::string out;
  switch (stop.kind) {
    case StopReply::Kind::kExited:
      out = "W";
      append_hex_byte(out, static_cast<std::uint8_t>(stop.exit_code));
      if (multiprocess) out += ";process:" + hex_number(static_cast<std::uint64_t>(stop.pid));
      return out;
    case StopReply::Kind::kTerminated:
      out = "X";
      append_hex_byte(out, static_cast<std::uint8_t>(stop.signal));
      if (multiprocess) out += ";process:" + hex_number(static_cast<std::uint64_t>(stop.pid));
      return out;
    case StopReply::Kind::kThreadExited:
      return "w" + hex_number(static_cast<std::uint64_t>(stop.exit_code)) + ";" +
             format_thread_id(stop.pid, stop.tid, multiprocess);
    case StopReply::Kind::kNoResumed:
      return "N";
    case StopReply::Kind::kSignal:
      break;
  }
  out = stop.signal_only ? "S" : "T";
  append_hex_byte(out, static_cast<std::uint8_t>(stop.signal));
  if (stop.signal_only) return out;
  for (const auto& [regno, bytes] : stop.expedited) {
    // At least two digits, as gdbserver and lldb-server write them: lldb takes only two-digit
    // keys for registers and ignores "6:" (then asks for rbp with a p packet at every stop).
    if (regno < 0x10) out += '0';
    out += hex_number(regno);
    out += ':';
    append_hex(out, bytes);
    out += ';';
  }
  if (stop.with_thread) out += "thread:" + format_thread_id(stop.pid, stop.tid, multiprocess) + ";";
  if (stop.core >= 0) out += "core:" + hex_number(static_cast<std::uint64_t>(stop.core)) + ";";
  if (stop.software_breakpoint) out += "swbreak:;";
  if (stop.hardware_breakpoint) out += "hwbreak:;";
  switch (stop.watch) {
    case StopReply::Watch::kNone:
      break;
    case StopReply::Watch::kWrite:
      out += "watch:" + hex_number(stop.watch_address) + ";";
      break;
    case StopReply::Watch::kRead:
      out += "rwatch:" + hex_number(stop.watch_address) + ";";
      break;
    case StopReply::Watch::kAccess:
      out += "awatch:" + hex_number(stop.watch_address) + ";";
      break;
  }
  for (const auto& [key, value] : stop.extra) out += key + ":" + value + ";";
  return out;
}

std::string lldb_watchpoint_description(std::uint64_t address, int index,
                                        std::optional<std::uint64_t> hit_address) {
  std::string text = std::to_string(address) + " " + std::to_string(index);
  if (hit_address) text += " " + std::to_string(*hit_address);
  return to_hex(text);
}

std::string transfer_chunk(std::string_view document, std::uint64_t offset, std::uint64_t length) {
  if (offset >= document.size()) return "l";
  const auto rest = document.substr(offset);
  const bool last = rest.size() <= length;
  std::string out(1, last ? 'l' : 'm');
  // Escaping can grow the data; the client's length bounds the unescaped bytes, as in gdbserver.
  append_escaped(out, rest.substr(0, last ? rest.size() : length));
  return out;
}

std::string console_output(std::string_view text) {
  std::string out = "O";
  append_hex(out, text);
  return out;
}

}  // namespace gostub::protocol

namespace gostub::protocol {

namespace {

// gdb's fileio errno values (gdb manual, "Errno Values"); the host's are Linux's.
int fileio_errno(int host_errno) {
  switch (host_errno) {
    case 1:
    case 2:
    case 4:
    case 9:
    case 13:
    case 14:
    case 16:
    case 17:
    case 19:
    case 20:
    case 21:
    case 22:
    case 23:
    case 24:
    case 27:
    case 28:
    case 29:
    case 30:
      return host_errno;  // EPERM … EROFS share Linux's numbers
    case 36:
      return 91;  // ENAMETOOLONG
    default:
      return 9999;  // EUNKNOWN
  }
}

void append_big_endian(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

}  // namespace

std::string host_io_result(std::int64_t result) {
  return result < 0 ? "F-" + hex_number(static_cast<std::uint64_t>(-result))
                    : "F" + hex_number(static_cast<std::uint64_t>(result));
}

std::string host_io_result(std::int64_t result, std::string_view attachment) {
  std::string out = host_io_result(result);
  out.push_back(';');
  append_escaped(out, attachment);
  return out;
}

std::string host_io_error(int host_errno) {
  return "F-1," + hex_number(static_cast<std::uint64_t>(fileio_errno(host_errno)));
}

std::string encode_file_status(const FileStatus& status) {
  std::string out;
  for (const auto field : {status.device, status.inode, status.mode, status.links, status.uid,
                           status.gid, status.rdevice}) {
    append_big_endian(out, field, 4);
  }
  for (const auto field : {status.size, status.block_size, status.blocks})
    append_big_endian(out, field, 8);
  for (const auto field : {status.access_time, status.modify_time, status.change_time}) {
    append_big_endian(out, field, 4);
  }
  return out;
}

}  // namespace gostub::protocol
