#include "protocol/framing.hpp"

#include "protocol/hex.hpp"

namespace gostub::protocol {

namespace {
constexpr char kEscape = '}';
constexpr char kRunLength = '*';
constexpr std::uint8_t kEscapeXor = 0x20;
constexpr int kRunLengthBias = 29;
}  // namespace

std::uint8_t checksum(std::string_view payload) {
  std::uint8_t sum = 0;
  for (char c : payload) sum = static_cast<std::uint8_t>(sum + static_cast<std::uint8_t>(c));
  return sum;
}

void frame_into(std::string& out, std::string_view payload) {
  out.clear();
  out.reserve(payload.size() + 4);
  out.push_back('$');
  out.append(payload);
  out.push_back('#');
  append_hex_byte(out, checksum(payload));
}

std::string frame(std::string_view payload) {
  std::string out;
  frame_into(out, payload);
  return out;
}

std::string frame_notification(std::string_view payload) {
  std::string out = frame(payload);
  out.front() = '%';
  return out;
}

void append_escaped(std::string& out, std::string_view data) {
  for (char c : data) {
    if (c == '#' || c == '$' || c == kEscape || c == kRunLength) {
      out.push_back(kEscape);
      out.push_back(static_cast<char>(static_cast<std::uint8_t>(c) ^ kEscapeXor));
    } else {
      out.push_back(c);
    }
  }
}

std::string escape_binary(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 8);
  append_escaped(out, data);
  return out;
}

std::optional<std::string> unescape_binary(std::string_view data) {
  std::string out;
  out.reserve(data.size());
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] == kEscape) {
      if (++i == data.size()) return std::nullopt;
      out.push_back(static_cast<char>(static_cast<std::uint8_t>(data[i]) ^ kEscapeXor));
    } else {
      out.push_back(data[i]);
    }
  }
  return out;
}

std::optional<std::string> expand_run_length(std::string_view raw, std::size_t max_size) {
  if (raw.find(kRunLength) == std::string_view::npos) return std::string(raw);
  std::string out;
  out.reserve(raw.size() * 2);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == kEscape) {  // an escape pair is data, never a run marker
      out.push_back(c);
      if (++i == raw.size()) return std::nullopt;
      out.push_back(raw[i]);
      continue;
    }
    if (c != kRunLength) {
      out.push_back(c);
      continue;
    }
    if (out.empty() || i + 1 == raw.size()) return std::nullopt;
    const int repeat = static_cast<std::uint8_t>(raw[++i]) - kRunLengthBias;
    if (repeat < 0) return std::nullopt;
    if (out.size() + static_cast<std::size_t>(repeat) > max_size) return std::nullopt;
    out.append(static_cast<std::size_t>(repeat), out.back());
  }
  return out;
}

void Decoder::feed(std::string_view bytes, std::vector<InputEvent>& out) {
  for (char c : bytes) {
    switch (state_) {
      case State::kIdle:
        if (c == '$') {
          state_ = State::kPayload;
          raw_.clear();
          sum_ = 0;
          overflow_ = false;
        } else if (c == '+') {
          out.emplace_back(AckReceived{});
        } else if (c == '-') {
          out.emplace_back(NackReceived{});
        } else if (c == kInterruptByte) {
          out.emplace_back(InterruptReceived{});
        }
        // Anything else between frames is line noise: gdb itself ignores it too.
        break;
      case State::kPayload:
        if (c == '#') {
          state_ = State::kChecksumHigh;
        } else if (c == '$') {
          // A new frame started before this one ended: the old one is lost (gdb does the same).
          raw_.clear();
          sum_ = 0;
          overflow_ = false;
        } else {
          sum_ = static_cast<std::uint8_t>(sum_ + static_cast<std::uint8_t>(c));
          if (raw_.size() < max_payload_) {
            raw_.push_back(c);
          } else {
            overflow_ = true;
          }
        }
        break;
      case State::kChecksumHigh: {
        const int digit = hex_digit_value(c);
        checksum_high_ = digit;
        state_ = State::kChecksumLow;
        break;
      }
      case State::kChecksumLow: {
        const int digit = hex_digit_value(c);
        state_ = State::kIdle;
        finish_frame(checksum_high_ < 0 || digit < 0 ? -1 : checksum_high_ * 16 + digit, out);
        break;
      }
    }
  }
}

void Decoder::finish_frame(int sent_checksum, std::vector<InputEvent>& out) {
  if (overflow_) {
    out.emplace_back(BadPacketReceived{"packet longer than " + std::to_string(max_payload_)});
    return;
  }
  if (sent_checksum != sum_) {
    out.emplace_back(BadPacketReceived{"bad checksum"});
    return;
  }
  // Runs can multiply a frame's size by 32: the expanded payload has the same bound.
  auto expanded = expand_run_length(raw_, max_payload_);
  if (!expanded) {
    out.emplace_back(BadPacketReceived{"malformed or oversized run-length encoding"});
    return;
  }
  out.emplace_back(PacketReceived{std::move(*expanded)});
}

}  // namespace gostub::protocol
