// qXfer:osdata:read (gdb's `info os`): facts about the host, not the program, as gdbserver
// gives them. The empty annex lists the types: gdbserver 13's cpus, files, modules, msg,
// processes, procgroups, semaphores, shm, sockets and threads, each read from /proc with the
// columns gdbserver gives it. An unknown type is an empty document, as there.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gostub::server {

// nullopt for a type gostub does not offer.
std::optional<std::string> osdata_document(std::string_view type);

}  // namespace gostub::server
