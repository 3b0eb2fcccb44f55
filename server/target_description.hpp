// The target description (qXfer:features:read:target.xml), generated from target/'s register
// table so that the register numbering exists in one place only.
#pragma once

#include <string>

namespace gostub::server {

const std::string& x86_64_target_xml();
// The same registers with lldb's extra attributes (offset, generic, DWARF and eh_frame
// numbers) and the sub-registers lldb shows (eax, ax, al, ah, …) defined on top of them.
const std::string& x86_64_target_xml_for_lldb();

}  // namespace gostub::server
