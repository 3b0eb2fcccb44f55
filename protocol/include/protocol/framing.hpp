// RSP framing: bytes in, events out; payloads in, frames out.
// Knows the wire syntax ($payload#xx, +, -, 0x03, run-length, binary escapes) and nothing of
// what a packet means. No I/O: the session moves bytes between sockets and these functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gostub::protocol {

inline constexpr char kInterruptByte = '\x03';

struct PacketReceived {
  std::string payload;  // checksum verified, run-length expanded, binary escapes left in place
};
struct AckReceived {};
struct NackReceived {};
struct InterruptReceived {};
// A frame whose checksum did not match, or that was longer than the decoder accepts.
struct BadPacketReceived {
  std::string reason;
};

using InputEvent =
    std::variant<PacketReceived, AckReceived, NackReceived, InterruptReceived, BadPacketReceived>;

class Decoder {
 public:
  explicit Decoder(std::size_t max_payload = 1 << 20) : max_payload_(max_payload) {}

  // Appends the events that `bytes` completes to `out`. Partial frames are kept for the next call.
  void feed(std::string_view bytes, std::vector<InputEvent>& out);

 private:
  enum class State { kIdle, kPayload, kChecksumHigh, kChecksumLow };
  State state_ = State::kIdle;
  std::string raw_;  // payload bytes as sent, before run-length expansion
  std::uint8_t sum_ = 0;
  int checksum_high_ = 0;
  bool overflow_ = false;
  std::size_t max_payload_;

  void finish_frame(int checksum, std::vector<InputEvent>& out);
};

std::uint8_t checksum(std::string_view payload);

// "$payload#xx". The payload is sent as given: binary data must be escaped first.
std::string frame(std::string_view payload);
// "%payload#xx": a notification (non-stop's %Stop), which is never acknowledged.
std::string frame_notification(std::string_view payload);
// Like frame(), but into an existing buffer (reused by the session to avoid allocation).
void frame_into(std::string& out, std::string_view payload);

// Escapes '#', '$', '}' and '*' as '}' followed by the byte XOR 0x20.
std::string escape_binary(std::string_view data);
void append_escaped(std::string& out, std::string_view data);
// Undoes escape_binary; nullopt when the data ends inside an escape.
std::optional<std::string> unescape_binary(std::string_view data);

// Expands "X*n" run-length encoding (n - 29 further copies of X). Escaped bytes are
// copied as they are. nullopt for a malformed run, or one that would pass `max_size` bytes.
std::optional<std::string> expand_run_length(std::string_view raw, std::size_t max_size = SIZE_MAX);

}  // namespace gostub::protocol
