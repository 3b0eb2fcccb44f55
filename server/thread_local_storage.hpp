// qGetTLSAddr without libthread_db: where a thread's copy of a thread-local variable lives.
// gdbserver asks libthread_db, which reads glibc's own description of its structures; gostub
// reads the same description (the `_thread_db_*` field records glibc exports for
// libthread_db) and walks the thread's dtv itself, so no library is loaded into the server.
#pragma once

#include <cstdint>

#include "server/client_thread.hpp"
#include "server/program.hpp"

namespace gostub::server {

// The address of byte `offset` of the TLS block of the module whose link_map is at
// `link_map`, for `thread` (glibc, x86-64). An error when the program has no glibc, or the
// thread has not allocated that block yet.
target::Result<std::uint64_t> thread_local_address(Program& program, ClientThread thread,
                                                   std::uint64_t offset, std::uint64_t link_map);

}  // namespace gostub::server
