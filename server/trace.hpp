// Tracepoints (gdb's trace, actions, tstart, tstop, tfind, tdump): one program's definitions,
// trace state variables, frame buffer and run status. Bookkeeping only: at a hit the stopped
// thread's registers and memory come through an AgentContext and a register-file reader, so
// the unit tests need no process. The program owns it (tracing outlives a client that
// disconnects); TracedProgram inserts the breakpoints and calls hit() from its hit filter.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/agent_expression.hpp"
#include "protocol/tracepoints.hpp"

namespace gostub::server {

struct Tracepoint {
  std::uint32_t number = 0;
  std::uint64_t address = 0;
  bool enabled = true;
  std::uint64_t step = 0;
  std::uint64_t pass = 0;  // tracing stops after this many hits (0: never)
  std::optional<protocol::AgentExpression> condition;
  std::vector<protocol::TraceAction> actions;
  std::vector<std::string> action_texts;  // as gdb sent them: qTsP gives them back
  std::vector<std::string> sources;       // QTDPsrc pieces, "TYPE:START:LEN:HEX"
  std::uint64_t hits = 0;
  std::uint64_t bytes = 0;  // of the buffer this tracepoint's frames took
};

// What one hit collected: the registers as the `g` packet gives them (empty: not collected),
// memory blocks, trace state variables.
struct TraceFrame {
  std::uint32_t tracepoint = 0;
  std::uint64_t address = 0;
  std::string registers;
  std::vector<std::pair<std::uint64_t, std::string>> memory;
  std::vector<std::pair<std::uint32_t, std::int64_t>> variables;
  // What the frame takes in the buffer, counted as gdbserver's blocks are (header, 'R' + file,
  // 'M' + address + length + bytes, 'V' + number + value).
  std::size_t size() const;
  // Up to `length` bytes at `address` from the blocks (contiguous from `address`); empty when
  // no block holds `address`.
  std::string read(std::uint64_t address, std::uint64_t length) const;
};

class Trace {
 public:
  static constexpr std::size_t kDefaultBufferSize = 5 * 1024 * 1024;  // gdbserver's default

  enum class StopReason : std::uint8_t { kNotRun, kCommand, kFull, kPassCount, kDisconnected };

  // Definitions (QTinit, QTDP, QTDPsrc, QTDV). A failure is a message for the user.
  void clear();
  std::expected<void, std::string> define(const protocol::TraceDefine& definition);
  std::expected<void, std::string> add_actions(const protocol::TraceDefineActions& actions);
  std::expected<void, std::string> add_source(const protocol::TraceSource& source);
  void define_variable(const protocol::TraceVariable& variable);
  std::expected<void, std::string> enable(const protocol::TraceEnable& enable);
  void set_buffer(const protocol::TraceBufferSetting& setting);
  void set_read_only(const protocol::TraceReadOnly& read_only) { read_only_ = read_only.ranges; }
  void set_notes(const protocol::TraceNotes& notes);
  void set_disconnected_tracing(bool keep) { disconnected_tracing_ = keep; }
  bool disconnected_tracing() const { return disconnected_tracing_; }

  // The run. start() forgets the last run's frames and counts; stop() keeps them.
  void start();
  void stop(StopReason reason, std::uint32_t tracepoint = 0);
  bool running() const { return running_; }
  // Addresses of the enabled tracepoints, where the program needs breakpoints while running.
  std::vector<std::uint64_t> addresses() const;
  bool traces(std::uint64_t address) const;

  // A thread hit `address` while tracing: each enabled tracepoint there whose condition holds
  // collects a frame (registers through `register_file`, memory and variables through
  // `thread`). Stops the run when a pass count is reached or the buffer is full (not circular).
  // Returns how many frames were collected.
  using RegisterFileReader = std::function<std::optional<std::string>()>;
  int hit(std::uint64_t address, const protocol::AgentContext& thread,
          const RegisterFileReader& register_file);

  // Frames, numbered from the oldest kept (0).
  std::size_t frame_count() const { return frames_.size(); }
  const TraceFrame* frame(std::int64_t number) const;
  // QTFrame's searches: the first frame after `current` that matches; nullopt: none.
  std::optional<std::size_t> find(const protocol::TraceSelectFrame& how,
                                  std::optional<std::size_t> current) const;
  // Memory the client reads while a frame is selected: collected bytes, else (nullopt) whether
  // the address lies in a read-only section (QTro), which can be read live.
  bool read_only(std::uint64_t address, std::uint64_t length) const;

  // Replies: qTStatus, qTfP/qTsP lines, qTfV/qTsV lines, qTP, qTV, traceframe-info.
  std::string status() const;
  std::vector<std::string> definition_lines() const;
  std::vector<std::string> variable_lines() const;
  std::optional<std::string> tracepoint_hits(std::uint32_t number, std::uint64_t address) const;
  std::optional<std::int64_t> variable_value(std::uint32_t number) const;
  std::string frame_info(const TraceFrame& frame) const;

  // A trace state variable (QTDV), which actions read and set at hits.
  struct Variable {
    std::int64_t initial = 0;
    std::optional<std::int64_t> value;  // set at start
    bool builtin = false;
    std::string name;
  };
  using Variables = std::map<std::uint32_t, Variable>;

 private:
  Tracepoint* find_tracepoint(std::uint32_t number, std::uint64_t address);
  bool store(TraceFrame frame);
  static std::uint64_t now_microseconds();

  std::vector<Tracepoint> tracepoints_;
  Variables variables_;
  std::deque<TraceFrame> frames_;
  std::size_t used_ = 0;
  std::size_t buffer_size_ = kDefaultBufferSize;
  bool circular_ = false;
  bool disconnected_tracing_ = false;
  std::uint64_t created_ = 0;
  bool running_ = false;
  StopReason stop_reason_ = StopReason::kNotRun;
  std::uint32_t stopping_tracepoint_ = 0;
  std::uint64_t start_time_ = 0, stop_time_ = 0;
  std::string user_, notes_, stop_notes_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> read_only_;
};

}  // namespace gostub::server
