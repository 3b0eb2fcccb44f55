// pclntab: any bytes as a table of any layout, every query on what parses. Reads are
// bounds-checked in the reader; this holds it to that.
#include <cstddef>
#include <cstdint>
#include <span>

#include "symbols/line_table.hpp"

using namespace gostub::symbols;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  const auto text_start = LineTable::header_text_start(bytes).value_or(0x1000);
  const auto table = LineTable::parse(bytes, text_start ? text_start : 0x1000);
  if (!table) return 0;
  const auto count = std::min<std::uint32_t>(table->function_count(), 64);
  for (std::uint32_t i = 0; i < count; ++i) {
    const auto function = table->function(i);
    if (!function) continue;
    (void)table->name(*function);
    (void)table->find_by_name(table->name(*function));
    if (function->end - function->entry < 4096) (void)table->rows(*function);
    for (std::uint32_t n = 0; n < 4; ++n) {
      if (const auto pcdata = table->pcdata_table(*function, n)) {
        (void)table->pcdata_value(*function, *pcdata, function->entry);
      }
      (void)table->funcdata(*function, n);
    }
    for (const auto pc :
         {function->entry, function->end - 1, (function->entry + function->end) / 2}) {
      (void)table->find(pc);
      (void)table->source_line(pc);
      (void)table->stack_delta(pc);
    }
  }
  (void)table->find(text_start);
  if (table->file_count() < 4096) {
    const auto files = table->files();
    if (!files.empty() && table->function_count() < 4096) (void)table->pcs_for_line(files[0], 1);
  }
  return 0;
}
