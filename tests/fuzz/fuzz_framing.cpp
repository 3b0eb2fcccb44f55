// Framing: the decoder over arbitrary bytes (split at every chunk boundary the input chooses),
// and the encoder's round trips (escaping, run-length expansion).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "protocol/framing.hpp"

using namespace gostub::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The first byte chooses how the stream is cut into reads, and the decoder's bound.
  const std::size_t chunk = size > 0 ? (data[0] % 64) + 1 : 1;
  Decoder decoder(size > 1 ? 64 + data[1] * 16 : 1024);
  std::vector<InputEvent> events;
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    decoder.feed(bytes.substr(at, chunk), events);
  }
  for (const auto& event : events) {
    if (const auto* packet = std::get_if<PacketReceived>(&event)) {
      if (packet->payload.size() > 64 + 255 * 16) __builtin_trap();  // the bound holds
      const auto framed = frame(escape_binary(packet->payload));
      std::vector<InputEvent> again;
      Decoder(1 << 20).feed(framed, again);
      if (again.size() != 1) __builtin_trap();
      const auto* round = std::get_if<PacketReceived>(&again[0]);
      if (round == nullptr) __builtin_trap();
      const auto unescaped = unescape_binary(round->payload);
      if (!unescaped || *unescaped != packet->payload) __builtin_trap();
    }
  }
  (void)expand_run_length(bytes, 1 << 16);
  (void)unescape_binary(bytes);
  return 0;
}
