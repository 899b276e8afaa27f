// SQL whose status values come from the code's lifecycle, not from the
// statement's text: each {{name}} becomes the quoted literal 'name' when
// `name` is one of `names`, and any other {{...}} throws std::logic_error
// (a typo fails the statement's first use, in every test that runs it).
// Literals rather than parameters, so that the planner matches the partial
// indexes' predicates ("status" = 'pending') with generic plans too. The
// names are the code's own constants, never input.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace effectd::sql {

std::string withStatusLiterals(std::string_view text, std::span<const std::string_view> names);

// A lifecycle's statuses, named in the enum's order: the one table both
// directions (and the SQL) are read from.
template <typename Status, std::size_t N>
struct StatusNames {
  std::string_view lifecycle;  // "event status", for the error
  std::array<std::string_view, N> names;

  // Throws std::logic_error for a value outside the enum.
  std::string_view name(Status status) const {
    const auto index = static_cast<std::size_t>(status);
    if (index >= N) throw std::logic_error(std::string(lifecycle) + " " + std::to_string(index));
    return names[index];
  }
  std::optional<Status> parse(std::string_view text) const {
    const auto* found = std::find(names.begin(), names.end(), text);
    if (found == names.end()) return std::nullopt;
    return static_cast<Status>(found - names.begin());
  }
  std::string sql(std::string_view text) const { return withStatusLiterals(text, names); }
};

}  // namespace effectd::sql
