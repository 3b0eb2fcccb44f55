// The target description (qXfer:features:read:target.xml), generated from target/'s register
// table so that the register numbering exists in one place only.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace gostub::server {

// gdb's: the Go pseudo-registers (goid, g) only for a Go program, so that a C program's
// registers are gdbserver's (gdb writes every register it knows into a core file, `gcore`).
const std::string& x86_64_target_xml(bool go);
// The same registers with lldb's extra attributes (offset, generic, DWARF and eh_frame
// numbers) and the sub-registers lldb shows (eax, ax, al, ah, …) defined on top of them.
const std::string& x86_64_target_xml_for_lldb();
// lldb's qRegisterInfoN answer for register N, numbered as in the lldb target description (the
// g-packet registers, then the sub-registers); nullopt past the last. Offsets are into gostub's
// g packet, which is what a client that reads registers with g (Delve) slices.
std::optional<std::string> x86_64_register_info(std::size_t regno);

}  // namespace gostub::server
