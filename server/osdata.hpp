// qXfer:osdata:read (gdb's `info os`): facts about the host, not the program, as gdbserver
// gives them. The empty annex lists the types; "processes" every process's pid, user, command
// line and core.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gostub::server {

// nullopt for a type gostub does not offer.
std::optional<std::string> osdata_document(std::string_view type);

}  // namespace gostub::server
