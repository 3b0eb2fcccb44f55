#include "symbols/value_printer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <unordered_set>

namespace gostub::symbols {

namespace {

constexpr std::uint64_t kMaxLoad = 1 << 20;  // bytes of one value read at once
constexpr std::uint8_t kBucketCount = 8;     // runtime.bucketCnt
constexpr std::uint8_t kMinTopHash = 5;      // below: empty or evacuated slots
// tophash[0] of an old bucket: 2 evacuatedX, 3 evacuatedY, 4 evacuatedEmpty (runtime/map.go).
constexpr std::uint8_t kEvacuatedX = 2, kEvacuatedEmpty = 4;
constexpr std::uint64_t kMaxIndirectSlot = 128;  // larger keys and values are stored by pointer
constexpr int kMaxNesting = 64;

template <typename T>
T get(std::string_view bytes, std::uint64_t offset) {
  T value{};
  if (offset + sizeof(T) <= bytes.size()) std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

std::uint64_t align8(std::uint64_t n) {
  return (n + 7) & ~std::uint64_t{7};
}

std::int64_t signed_value(std::string_view bytes, std::uint64_t size) {
  switch (size) {
    case 1:
      return get<std::int8_t>(bytes, 0);
    case 2:
      return get<std::int16_t>(bytes, 0);
    case 4:
      return get<std::int32_t>(bytes, 0);
    default:
      return get<std::int64_t>(bytes, 0);
  }
}

std::uint64_t unsigned_value(std::string_view bytes, std::uint64_t size) {
  switch (size) {
    case 1:
      return get<std::uint8_t>(bytes, 0);
    case 2:
      return get<std::uint16_t>(bytes, 0);
    case 4:
      return get<std::uint32_t>(bytes, 0);
    default:
      return get<std::uint64_t>(bytes, 0);
  }
}

// Map bucket geometry (runtime.bmap as the compiler lays it out).
struct Bucket {
  std::uint64_t key_slot, elem_slot, keys, elems, overflow, size;
  bool indirect_key, indirect_elem;
  explicit Bucket(const GoType& map) {
    indirect_key = map.key->size > kMaxIndirectSlot;
    indirect_elem = map.elem->size > kMaxIndirectSlot;
    key_slot = indirect_key ? 8 : map.key->size;
    elem_slot = indirect_elem ? 8 : map.elem->size;
    keys = kBucketCount;
    elems = keys + kBucketCount * key_slot;
    overflow = align8(elems + kBucketCount * elem_slot);
    size = overflow + 8;
  }
};

// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

}  // namespace

std::string go_float(double value, int bits) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // The shortest digits that read back as the same value (as strconv's -1 precision), in
  // Go's %g form: an exponent when it is below -4 or at least 6 (strconv's eprec for the
  // shortest form), written with at least two digits.
  std::array<char, 64> text;
  const auto shortest = [&](std::chars_format format) {
    const auto end = bits == 32
                         ? std::to_chars(text.data(), text.data() + text.size(),
                                         static_cast<float>(value), format)
                         : std::to_chars(text.data(), text.data() + text.size(), value, format);
    return std::string(text.data(), end.ptr);
  };
  const auto scientific = shortest(std::chars_format::scientific);
  const auto e = scientific.find('e');
  const int exponent = std::stoi(scientific.substr(e + 1));
  if (exponent < -4 || exponent >= 6) return scientific;  // to_chars writes "e+06" as Go does
  return shortest(std::chars_format::fixed);
}

std::string go_quote(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\a':
        out += "\\a";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\v':
        out += "\\v";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      // A valid UTF-8 sequence is kept; a stray byte is escaped, as strconv.Quote does.
      const std::size_t length = (c & 0xe0) == 0xc0   ? 2
                                 : (c & 0xf0) == 0xe0 ? 3
                                 : (c & 0xf8) == 0xf0 ? 4
                                                      : 0;
      bool valid = length != 0 && i + length <= text.size();
      for (std::size_t k = 1; valid && k < length; ++k) {
        valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
      }
      if (valid) {
        out.append(text.substr(i, length));
        i += length - 1;
      } else {
        out += fmt::format("\\x{:02x}", c);
      }
    }
  }
  return out + '"';
}

std::optional<GoValue> ValuePrinter::load(const GoType& type, std::uint64_t address) const {
  GoValue value{&type, std::string(std::min(type.size, kMaxLoad), '\0'), address};
  if (type.kind == GoKind::kArray && type.size > kMaxLoad && type.elem != nullptr) {
    // Only what print shows of a huge array.
    value.bytes.resize(std::min(type.size, type.elem->size * limits_.elements));
  }
  if (!value.bytes.empty() && !context_.memory.read(address, value.bytes)) return std::nullopt;
  return value;
}

template <typename Integer>
void ValuePrinter::write_integer(std::string& out, const GoType& type, Integer value) {
  // One of its type's constants: "NAME (value)", as Delve writes it.
  if (type.constants != nullptr) {
    const auto found = type.constants->find(static_cast<std::int64_t>(value));
    if (found != type.constants->end()) {
      out += fmt::format("{} ({})", found->second, value);
      return;
    }
  }
  out += fmt::format("{}", value);
}

std::string ValuePrinter::print(const GoValue& value) {
  truncated_ = false;
  std::string out;
  write(out, value, 0, true, true);
  return out;
}

void ValuePrinter::write_string(std::string& out, std::uint64_t pointer, std::int64_t length) {
  if (length < 0) {
    out += fmt::format("(bad string length {})", length);
    return;
  }
  const auto shown = std::min<std::uint64_t>(static_cast<std::uint64_t>(length), limits_.string);
  std::string text(shown, '\0');
  if (shown > 0 && !context_.memory.read(pointer, text)) {
    out += fmt::format("(unreadable string at {:#x}, length {})", pointer, length);
    return;
  }
  auto quoted = go_quote(text);
  if (shown < static_cast<std::uint64_t>(length)) {
    quoted.insert(quoted.size() - 1,
                  fmt::format("...+{} more", length - static_cast<std::int64_t>(shown)));
  }
  out += quoted;
}

void ValuePrinter::write_elements(std::string& out, const GoType& elem, std::uint64_t base,
                                  std::string_view inline_bytes, std::uint64_t length, int level) {
  const auto count = std::min<std::uint64_t>(length, limits_.elements);
  std::string bytes;
  if (elem.size > 0 && count > 0) {
    if (inline_bytes.size() >= count * elem.size) {
      bytes = std::string(inline_bytes.substr(0, count * elem.size));
    } else {
      bytes.resize(count * elem.size);
      if (!context_.memory.read(base, bytes)) {
        out += fmt::format("(unreadable elements at {:#x})", base);
        return;
      }
    }
  }
  out += '[';
  for (std::uint64_t i = 0; i < count && !truncated_; ++i) {
    if (i > 0) out += ',';
    GoValue element{&elem, bytes.substr(i * elem.size, elem.size),
                    base == 0 ? 0 : base + i * elem.size};
    write(out, element, level + 1, false, false);
  }
  if (count < length) out += fmt::format(",...+{} more", length - count);
  out += ']';
}

void ValuePrinter::write(std::string& out, const GoValue& value, int level, bool top,
                         bool include_type) {
  // Bounds that hold whatever the limits and the memory: the output's size, and the nesting
  // (pointers do not count as levels, and `type P *P` points at itself).
  if (out.size() > limits_.output || nesting_ > kMaxNesting) {
    if (!truncated_) out += "...";
    truncated_ = truncated_ || out.size() > limits_.output;
    return;
  }
  ++nesting_;
  struct Leave {
    int& nesting;
    ~Leave() { --nesting; }
  } leave{nesting_};
  const auto& type = *value.type;
  const std::string_view bytes = value.bytes;
  const auto word = [&](std::uint64_t offset) { return get<std::uint64_t>(bytes, offset); };
  switch (type.kind) {
    case GoKind::kBool:
      out += get<std::uint8_t>(bytes, 0) != 0 ? "true" : "false";
      return;
    case GoKind::kInt:
    case GoKind::kInt8:
    case GoKind::kInt16:
    case GoKind::kInt32:
    case GoKind::kInt64:
      write_integer(out, type, signed_value(bytes, type.size));
      return;
    case GoKind::kUint:
    case GoKind::kUint8:
    case GoKind::kUint16:
    case GoKind::kUint32:
    case GoKind::kUint64:
    case GoKind::kUintptr:
      write_integer(out, type, unsigned_value(bytes, type.size));
      return;
    case GoKind::kFloat32:
      out += go_float(get<float>(bytes, 0), 32);
      return;
    case GoKind::kFloat64:
      out += go_float(get<double>(bytes, 0), 64);
      return;
    case GoKind::kComplex64:
      out += fmt::format("({} + {}i)", go_float(get<float>(bytes, 0), 32),
                         go_float(get<float>(bytes, 4), 32));
      return;
    case GoKind::kComplex128:
      out += fmt::format("({} + {}i)", go_float(get<double>(bytes, 0), 64),
                         go_float(get<double>(bytes, 8), 64));
      return;
    case GoKind::kUnsafePointer:
      out += fmt::format("unsafe.Pointer({:#x})", word(0));
      return;
    case GoKind::kString:
      write_string(out, word(0), static_cast<std::int64_t>(word(8)));
      return;
    case GoKind::kFunc: {
      const auto closure = word(0);
      if (closure == 0) {
        out += "nil";
        return;
      }
      const auto entry = read_word(context_.memory, closure);
      const auto name = entry && context_.function_name ? context_.function_name(*entry) : "";
      out += name.empty() ? fmt::format("{:#x}", closure) : name;
      return;
    }
    case GoKind::kPointer: {
      const auto target = word(0);
      if (target == 0 || type.elem == nullptr) {
        out += include_type ? fmt::format("{} nil", type.name) : "nil";
        return;
      }
      const auto pointee = load(*type.elem, target);
      if (!pointee) {
        out += fmt::format("({})({:#x}) (unreadable)", type.name, target);
        return;
      }
      out += '*';
      // Following a pointer does not go deeper, unless it leads to an interface (a loop).
      write(out, *pointee, type.elem->kind == GoKind::kInterface ? level + 1 : level, false,
            include_type);
      return;
    }
    case GoKind::kStruct: {
      if (type.name == "time.Time") {
        write_time(out, value);
        return;
      }
      if (level > limits_.depth) {
        out += fmt::format("(*{})({:#x})", type.name, value.address);
        return;
      }
      if (include_type) out += type.name + ' ';
      out += '{';
      bool first = true;
      for (const auto& field : type.fields) {
        if (!first) out += ", ";
        first = false;
        out += field.name + ": ";
        if (field.type == nullptr) {
          out += "?";
          continue;
        }
        const auto part = field.offset < bytes.size() ? bytes.substr(field.offset, field.type->size)
                                                      : std::string_view{};
        write(out,
              GoValue{field.type, std::string(part),
                      value.address == 0 ? 0 : value.address + field.offset},
              level + 1, false, true);
      }
      out += '}';
      return;
    }
    case GoKind::kArray:
      if (include_type) out += type.name + ' ';
      if (type.elem == nullptr) {
        out += "[?]";
        return;
      }
      write_elements(out, *type.elem, value.address, bytes, type.length, level);
      return;
    case GoKind::kSlice: {
      const auto base = word(0);
      const auto length = static_cast<std::int64_t>(word(8));
      const auto capacity = static_cast<std::int64_t>(word(16));
      if (include_type) out += fmt::format("{} len: {}, cap: {}, ", type.name, length, capacity);
      if (base == 0) {
        out += "nil";
        return;
      }
      if (length < 0 || capacity < length || type.elem == nullptr) {
        out += fmt::format("(bad slice: len {}, cap {})", length, capacity);
        return;
      }
      write_elements(out, *type.elem, base, {}, static_cast<std::uint64_t>(length), level);
      return;
    }
    case GoKind::kMap:
      write_map(out, value, level, include_type);
      return;
    case GoKind::kChan:
      write_chan(out, value, include_type);
      return;
    case GoKind::kInterface:
      write_interface(out, value, level, include_type);
      return;
    case GoKind::kInvalid:
      break;
  }
  (void)top;
  out += fmt::format("({}: a type print does not know)", type.name);
}

bool ValuePrinter::each_entry(const GoType& map, std::uint64_t hmap,
                              const std::function<bool(GoValue, GoValue)>& visit,
                              std::string& error) {
  // runtime.hmap: count, flags, B, noverflow, hash0, buckets, oldbuckets, nevacuate, extra.
  std::array<char, 48> header;
  if (!context_.memory.read(hmap, header)) {
    error = fmt::format("(unreadable map header at {:#x})", hmap);
    return false;
  }
  const std::string_view h(header.data(), header.size());
  const auto b = get<std::uint8_t>(h, 9);
  const auto buckets = get<std::uint64_t>(h, 16);
  const auto oldbuckets = get<std::uint64_t>(h, 24);
  if (b > 40) {
    error = fmt::format("(corrupt map: B = {})", b);
    return false;
  }
  const Bucket geometry(map);
  const std::uint64_t count = std::uint64_t{1} << b;
  // While growing, oldbuckets has half as many (or, for a same-size grow, as many) buckets.
  const bool same_size = (get<std::uint8_t>(h, 8) & 8) != 0;  // sameSizeGrow flag
  const std::uint64_t old_mask = same_size || b == 0 ? count - 1 : (count >> 1) - 1;
  std::string bucket(geometry.size, '\0');
  std::size_t budget = limits_.buckets;
  const auto walk = [&](std::uint64_t address, bool old_bucket) -> std::optional<bool> {
    for (; address != 0; address = get<std::uint64_t>(bucket, geometry.overflow)) {
      if (budget-- == 0) {
        error = fmt::format("(stopped after reading {} buckets)", limits_.buckets);
        return std::nullopt;
      }
      if (!context_.memory.read(address, bucket)) {
        error = fmt::format("(unreadable map bucket at {:#x})", address);
        return std::nullopt;
      }
      for (std::uint8_t slot = 0; slot < kBucketCount; ++slot) {
        if (static_cast<std::uint8_t>(bucket[slot]) < kMinTopHash) continue;
        (void)old_bucket;
        const auto key_at = address + geometry.keys + slot * geometry.key_slot;
        const auto elem_at = address + geometry.elems + slot * geometry.elem_slot;
        GoValue key{map.key,
                    bucket.substr(geometry.keys + slot * geometry.key_slot, geometry.key_slot),
                    key_at};
        GoValue elem{map.elem,
                     bucket.substr(geometry.elems + slot * geometry.elem_slot, geometry.elem_slot),
                     elem_at};
        if (geometry.indirect_key) {
          auto loaded = load(*map.key, get<std::uint64_t>(key.bytes, 0));
          if (!loaded) continue;
          key = std::move(*loaded);
        }
        if (geometry.indirect_elem) {
          auto loaded = load(*map.elem, get<std::uint64_t>(elem.bytes, 0));
          if (!loaded) continue;
          elem = std::move(*loaded);
        }
        if (!visit(std::move(key), std::move(elem))) return false;
      }
    }
    return true;
  };
  for (std::uint64_t i = 0; i < count && buckets != 0; ++i) {
    auto address = buckets + i * geometry.size;
    bool old_bucket = false;
    if (oldbuckets != 0) {
      // An old bucket not yet evacuated holds the entries of both its new buckets: read it
      // once, in place of the first of them (Delve does the same).
      const auto old = i & old_mask;
      const auto old_address = oldbuckets + old * geometry.size;
      char tophash = 0;
      if (!context_.memory.read(old_address, std::span(&tophash, 1))) {
        error = fmt::format("(unreadable map bucket at {:#x})", old_address);
        return false;
      }
      const auto mark = static_cast<std::uint8_t>(tophash);
      const bool evacuated = mark >= kEvacuatedX && mark <= kEvacuatedEmpty;
      if (!evacuated) {
        if (old != i) continue;
        address = old_address;
        old_bucket = true;
      }
    }
    const auto walked = walk(address, old_bucket);
    if (!walked) return false;
    if (!*walked) return true;
  }
  return true;
}

void ValuePrinter::write_map(std::string& out, const GoValue& value, int level, bool include_type) {
  const auto& type = *value.type;
  if (include_type) out += type.name + ' ';
  const auto hmap = get<std::uint64_t>(value.bytes, 0);
  if (hmap == 0) {
    out += "nil";
    return;
  }
  if (type.key == nullptr || type.elem == nullptr) {
    out += fmt::format("({:#x})", hmap);
    return;
  }
  if (context_.go_minor >= 24) {  // internal/runtime/maps: another layout altogether
    out += fmt::format("(a Go 1.24 swiss-table map at {:#x}: not read yet)", hmap);
    return;
  }
  const auto length = read_word(context_.memory, hmap);
  if (!length) {
    out += fmt::format("(unreadable map at {:#x})", hmap);
    return;
  }
  out += '[';
  if (level > limits_.depth && *length > 0) {
    out += "...]";
    return;
  }
  std::size_t shown = 0;
  std::string error;
  each_entry(
      type, hmap,
      [&](GoValue key, GoValue elem) {
        if (shown == limits_.elements || truncated_) return false;
        if (shown > 0) out += ", ";
        write(out, key, level + 1, false, false);
        out += ": ";
        write(out, elem, level + 1, false, false);
        ++shown;
        return true;
      },
      error);
  const auto total = static_cast<std::int64_t>(*length);
  if (!error.empty()) out += (shown > 0 ? ", " : "") + error;
  if (total > static_cast<std::int64_t>(shown)) {
    out += fmt::format("{}...+{} more", shown > 0 || !error.empty() ? ", " : "",
                       total - static_cast<std::int64_t>(shown));
  }
  out += ']';
}

void ValuePrinter::write_chan(std::string& out, const GoValue& value, bool include_type) {
  const auto& type = *value.type;
  if (include_type) out += type.name + ' ';
  const auto hchan = get<std::uint64_t>(value.bytes, 0);
  if (hchan == 0) {
    out += "nil";
    return;
  }
  // runtime.hchan: qcount, dataqsiz, buf, elemsize uint16, closed uint32, [timer 1.23+],
  // elemtype, sendx, recvx, recvq {first, last}, sendq {first, last}.
  std::array<char, 96> header;
  if (!context_.memory.read(hchan, header)) {
    out += fmt::format("(unreadable channel at {:#x})", hchan);
    return;
  }
  const std::string_view h(header.data(), header.size());
  const std::uint64_t shift = context_.go_minor >= 23 ? 8 : 0;
  const auto length = get<std::uint64_t>(h, 0);
  const auto capacity = get<std::uint64_t>(h, 8);
  const auto buffer = get<std::uint64_t>(h, 16);
  const auto closed = get<std::uint32_t>(h, 28);
  const auto receive_from = get<std::uint64_t>(h, 48 + shift);
  out += fmt::format("{{len: {}, cap: {}", length, capacity);
  if (type.elem != nullptr && length > 0 && length <= capacity && type.elem->size > 0) {
    // The queue in the order receivers get it: from recvx, around the ring.
    out += ", [";
    const auto shown = std::min<std::uint64_t>(length, limits_.elements);
    for (std::uint64_t i = 0; i < shown; ++i) {
      if (i > 0) out += ',';
      const auto at = buffer + ((receive_from + i) % capacity) * type.elem->size;
      const auto element = load(*type.elem, at);
      if (!element) {
        out += "?";
        continue;
      }
      write(out, *element, 1, false, false);
    }
    if (shown < length) out += fmt::format(",...+{} more", length - shown);
    out += ']';
  }
  if (closed != 0) out += ", closed";
  const auto waiters = [&](std::uint64_t first, std::string_view what) {
    std::string ids;
    std::size_t n = 0;
    // sudog: g at 0, next at 8. Bounded: a corrupt list may loop.
    for (auto sudog = first; sudog != 0 && n < limits_.elements; ++n) {
      const auto g = read_word(context_.memory, sudog);
      const auto id = g ? read_word(context_.memory, *g + context_.g_goid_offset) : std::nullopt;
      ids += fmt::format("{}{}", n > 0 ? "," : "", id ? fmt::format("{}", *id) : "?");
      const auto next = read_word(context_.memory, sudog + 8);
      if (!next) break;
      sudog = *next;
    }
    if (n > 0) out += fmt::format(", {}: goroutines [{}]", what, ids);
  };
  waiters(get<std::uint64_t>(h, 56 + shift), "waiting to receive");  // recvq.first
  waiters(get<std::uint64_t>(h, 72 + shift), "waiting to send");     // sendq.first
  out += '}';
}

std::optional<GoValue> ValuePrinter::dynamic(const GoValue& interface) const {
  auto type_word = get<std::uint64_t>(interface.bytes, 0);
  const auto data = get<std::uint64_t>(interface.bytes, 8);
  if (type_word == 0) return std::nullopt;
  if (!interface.type->empty_interface) {
    const auto type = read_word(context_.memory, type_word + 8);  // itab._type
    if (!type) return std::nullopt;
    type_word = *type;
  }
  const auto* type = context_.dynamic_type ? context_.dynamic_type(type_word) : nullptr;
  if (type == nullptr) return std::nullopt;
  // Pointer-shaped values are the data word itself; others are pointed at by it.
  const bool direct = type->direct_interface || type->kind == GoKind::kPointer ||
                      type->kind == GoKind::kUnsafePointer;
  if (direct) {
    std::string bytes(8, '\0');
    std::memcpy(bytes.data(), &data, 8);
    return GoValue{type, bytes, 0};
  }
  return load(*type, data);
}

void ValuePrinter::write_interface(std::string& out, const GoValue& value, int level,
                                   bool include_type) {
  const auto& type = *value.type;
  const auto type_word = get<std::uint64_t>(value.bytes, 0);
  if (type_word == 0) {
    out += include_type ? type.name + " nil" : "nil";
    return;
  }
  const auto data = dynamic(value);
  if (!data) {
    out += fmt::format("{}(?) {:#x}", include_type ? type.name : "",
                       get<std::uint64_t>(value.bytes, 8));
    return;
  }
  if (include_type) out += fmt::format("{}({}) ", type.name, data->type->name);
  if (level > limits_.depth) {
    out += "...";
    return;
  }
  write(out, *data, level, false, !include_type);
}

void ValuePrinter::write_time(std::string& out, const GoValue& value) {
  // time.Time: wall uint64, ext int64, loc *Location. With the monotonic bit, wall holds the
  // seconds since 1885 (33 bits) and the nanoseconds; without, ext holds the seconds since
  // year 1.
  const auto wall = get<std::uint64_t>(value.bytes, 0);
  const auto ext = get<std::int64_t>(value.bytes, 8);
  const auto loc = get<std::uint64_t>(value.bytes, 16);
  constexpr std::uint64_t kHasMonotonic = std::uint64_t{1} << 63;
  constexpr std::int64_t kWallToInternal =
      (1884LL * 365 + 1884 / 4 - 1884 / 100 + 1884 / 400) * 86400;
  constexpr std::int64_t kUnixToInternal =
      (1969LL * 365 + 1969 / 4 - 1969 / 100 + 1969 / 400) * 86400;
  const auto nanoseconds = static_cast<std::int64_t>(wall & ((1u << 30) - 1));
  const std::int64_t seconds = (wall & kHasMonotonic) != 0
                                   ? kWallToInternal + static_cast<std::int64_t>((wall << 1) >> 31)
                                   : ext;
  std::int64_t unix = seconds - kUnixToInternal;
  // The zone: none (UTC), or the one the Location's cache holds for this instant.
  std::int64_t offset = 0;
  std::string zone = "UTC";
  if (loc != 0) {
    // time.Location: name string, zone []zone, tx []zoneTrans, extend string, cacheStart,
    // cacheEnd int64, cacheZone *zone; zone: name string, offset int, isDST bool. The zone in
    // effect is the cached one when the instant is in the cache's range, else the only one.
    std::array<char, 104> location;
    if (context_.memory.read(loc, location)) {
      const std::string_view l(location.data(), location.size());
      const auto start = get<std::int64_t>(l, 80), end = get<std::int64_t>(l, 88);
      auto zone_at = get<std::uint64_t>(l, 96);
      if (zone_at == 0 || unix < start || unix >= end) {
        zone_at = get<std::uint64_t>(l, 24) == 1 ? get<std::uint64_t>(l, 16) : 0;
      }
      std::array<char, 24> z;
      if (zone_at != 0 && context_.memory.read(zone_at, z)) {
        const std::string_view zv(z.data(), z.size());
        offset = get<std::int64_t>(zv, 16);
        std::string name(std::min<std::uint64_t>(get<std::uint64_t>(zv, 8), 64), '\0');
        if (context_.memory.read(get<std::uint64_t>(zv, 0), name)) zone = name;
      } else if (get<std::uint64_t>(l, 24) != 0) {
        std::string name(std::min<std::uint64_t>(get<std::uint64_t>(l, 8), 64), '\0');
        if (context_.memory.read(get<std::uint64_t>(l, 0), name)) zone = "Location " + name;
      }  // no zones: UTC, as Location.lookup says (time.Local before its first use, too)
    }
  }
  const auto local = unix + offset;
  const auto days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  const auto rest = local - days * 86400;
  std::int64_t year;
  unsigned month, day;
  civil_from_days(days, year, month, day);
  out += fmt::format("time.Time({:04}-{:02}-{:02}T{:02}:{:02}:{:02}", year, month, day, rest / 3600,
                     rest / 60 % 60, rest % 60);
  if (nanoseconds != 0) {
    auto fraction = fmt::format("{:09}", nanoseconds);
    while (fraction.back() == '0') fraction.pop_back();
    out += '.' + fraction;
  }
  if (offset == 0 && (zone == "UTC" || loc == 0)) {
    out += "Z";
  } else {
    const auto minutes = std::abs(offset) / 60;
    out += fmt::format("{}{:02}:{:02}", offset < 0 ? '-' : '+', minutes / 60, minutes % 60);
  }
  if (zone != "UTC") out += ' ' + zone;
  out += ')';
}

std::optional<GoValue> ValuePrinter::deref(const GoValue& value, std::string& error) {
  const auto& type = *value.type;
  if (type.kind != GoKind::kPointer || type.elem == nullptr) {
    error = fmt::format("cannot dereference a value of type {}", type.name);
    return std::nullopt;
  }
  const auto target = get<std::uint64_t>(value.bytes, 0);
  if (target == 0) {
    error = "nil pointer dereference";
    return std::nullopt;
  }
  auto loaded = load(*type.elem, target);
  if (!loaded) error = fmt::format("cannot read memory at {:#x}", target);
  return loaded;
}

std::optional<GoValue> ValuePrinter::field(const GoValue& value, std::string_view name,
                                           std::string& error) {
  if (value.type->kind == GoKind::kPointer) {  // Go's implicit (*p).f
    const auto pointee = deref(value, error);
    if (!pointee) return std::nullopt;
    return field(*pointee, name, error);
  }
  if (value.type->kind == GoKind::kInterface) {
    const auto inner = dynamic(value);
    if (!inner) {
      error = "the interface is nil or its dynamic type is unknown";
      return std::nullopt;
    }
    return field(*inner, name, error);
  }
  if (value.type->kind != GoKind::kStruct) {
    error = fmt::format("{} has no field {}", value.type->name, name);
    return std::nullopt;
  }
  for (const auto& f : value.type->fields) {
    if (f.name != name || f.type == nullptr) continue;
    return GoValue{
        f.type,
        value.bytes.substr(std::min<std::size_t>(f.offset, value.bytes.size()), f.type->size),
        value.address == 0 ? 0 : value.address + f.offset};
  }
  error = fmt::format("{} has no field {}", value.type->name, name);
  return std::nullopt;
}

std::optional<GoValue> ValuePrinter::index(const GoValue& value, std::uint64_t position,
                                           std::string& error) {
  const auto& type = *value.type;
  const auto* elem = type.elem;
  std::uint64_t base = 0, length = 0;
  if (type.kind == GoKind::kArray && elem != nullptr) {
    length = type.length;
    if (position < length && (position + 1) * elem->size <= value.bytes.size()) {
      return GoValue{elem, value.bytes.substr(position * elem->size, elem->size),
                     value.address == 0 ? 0 : value.address + position * elem->size};
    }
    base = value.address;
  } else if (type.kind == GoKind::kSlice && elem != nullptr) {
    base = get<std::uint64_t>(value.bytes, 0);
    length = get<std::uint64_t>(value.bytes, 8);
  } else if (type.kind == GoKind::kString) {
    // s[i] is a byte.
    static const GoType kByte = [] {
      GoType byte;
      byte.kind = GoKind::kUint8, byte.name = "uint8", byte.size = 1;
      return byte;
    }();
    base = get<std::uint64_t>(value.bytes, 0);
    length = get<std::uint64_t>(value.bytes, 8);
    elem = &kByte;
  } else if (type.kind == GoKind::kPointer && type.elem != nullptr &&
             type.elem->kind == GoKind::kArray) {
    const auto array = deref(value, error);
    return array ? index(*array, position, error) : std::nullopt;
  } else {
    error = fmt::format("cannot index a value of type {}", type.name);
    return std::nullopt;
  }
  if (position >= length) {
    error = fmt::format("index {} out of range [0, {})", position, length);
    return std::nullopt;
  }
  auto loaded = load(*elem, base + position * elem->size);
  if (!loaded) error = fmt::format("cannot read memory at {:#x}", base + position * elem->size);
  return loaded;
}

std::optional<GoValue> ValuePrinter::lookup(const GoValue& map, std::string_view key,
                                            std::string& error) {
  const auto& type = *map.type;
  if (type.kind != GoKind::kMap || type.key == nullptr || type.elem == nullptr) {
    error = fmt::format("cannot index a value of type {} with a key", type.name);
    return std::nullopt;
  }
  const auto hmap = get<std::uint64_t>(map.bytes, 0);
  if (hmap == 0) {
    error = "the map is nil";
    return std::nullopt;
  }
  std::optional<GoValue> found;
  // Keys are compared as print writes them: no hashing of Go's own to reproduce.
  const bool walked = each_entry(
      type, hmap,
      [&](GoValue k, GoValue v) {
        std::string text;
        write(text, k, limits_.depth, false, false);
        if (text != key) return true;
        found = std::move(v);
        return false;
      },
      error);
  if (!found && error.empty()) error = fmt::format("key {} not found", key);
  (void)walked;
  return found;
}

}  // namespace gostub::symbols
