#include "sql/status_literals.hpp"

#include <algorithm>
#include <stdexcept>

namespace effectd::sql {

std::string withStatusLiterals(std::string_view text, std::span<const std::string_view> names) {
  std::string out;
  out.reserve(text.size());
  for (;;) {
    const auto open = text.find("{{");
    if (open == std::string_view::npos) break;
    const auto close = text.find("}}", open + 2);
    if (close == std::string_view::npos) throw std::logic_error("SQL: unclosed {{ in a statement");
    const auto name = text.substr(open + 2, close - open - 2);
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      throw std::logic_error("SQL: {{" + std::string(name) + "}} is no status of this lifecycle");
    }
    out.append(text.substr(0, open)).append("'").append(name).append("'");
    text.remove_prefix(close + 2);
  }
  return out.append(text);
}

}  // namespace effectd::sql
