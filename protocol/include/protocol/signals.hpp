// gdb numbers signals its own way (include/gdb/signals.def); stop replies, C/S actions and
// QPassSignals use that numbering, not the host's. These convert between it and Linux's.
#pragma once

namespace gostub::protocol {

// 0 (no signal) maps to 0; an unmappable signal maps to gdb's "unknown" (143) / to 0.
int gdb_signal_from_linux(int linux_signal);
int linux_signal_from_gdb(int gdb_signal);

}  // namespace gostub::protocol
