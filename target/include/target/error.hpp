// One error type for the target engine: an errno value (what the wire reports) and a message
// (what a person reads). The server maps it to the protocol in one place.
#pragma once

#include <expected>
#include <string>

namespace gostub::target {

struct Error {
  int code;  // errno value
  std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;

// An Error from the current errno, with `what` naming the failed operation.
Error last_system_error(std::string what);
std::unexpected<Error> fail(int code, std::string message);

}  // namespace gostub::target
