// x86-64 facts the engine's files share.
#pragma once

#include <cstdint>

namespace gostub::target {

// int3: the one-byte breakpoint instruction written over the original byte.
inline constexpr std::uint8_t kInt3 = 0xcc;

}  // namespace gostub::target
