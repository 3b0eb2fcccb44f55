// A thread as the client names it: an OS thread (LWP), or a parked goroutine shown as a thread
// of its own (--goroutine-threads). On the wire both are one integer; here they are two kinds,
// so no code compares raw ids with a magic base or casts a goroutine's id to a pid_t.
#pragma once

#include <sys/types.h>

#include <compare>
#include <cstdint>
#include <optional>

namespace gostub::server {

class ClientThread {
 public:
  // Goroutine N is thread kGoroutineBase + N on the wire: above any Linux tid (pid_max is at
  // most 2^22), and readable in decimal.
  static constexpr std::int64_t kGoroutineBase = 1'000'000'000;

  static ClientThread os_thread(pid_t tid) { return ClientThread(tid); }
  static ClientThread goroutine(std::int64_t id) { return ClientThread(kGoroutineBase + id); }
  // A positive wire id; nullopt for 0 (any), -1 (all) and other non-thread values.
  static std::optional<ClientThread> from_wire(std::int64_t wire) {
    if (wire <= 0) return std::nullopt;
    return ClientThread(wire);
  }

  std::int64_t wire() const { return wire_; }
  bool is_goroutine() const { return wire_ >= kGoroutineBase; }
  // The OS thread; only for !is_goroutine().
  pid_t tid() const { return static_cast<pid_t>(wire_); }
  // The goroutine id; only for is_goroutine().
  std::int64_t goroutine_id() const { return wire_ - kGoroutineBase; }

  auto operator<=>(const ClientThread&) const = default;

 private:
  explicit ClientThread(std::int64_t wire) : wire_(wire) {}
  std::int64_t wire_;
};

}  // namespace gostub::server
