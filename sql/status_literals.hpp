// SQL whose status values come from the code's lifecycle, not from the
// statement's text: each {{name}} becomes the quoted literal 'name' when
// `name` is one of `names`, and any other {{...}} throws std::logic_error
// (a typo fails the statement's first use, in every test that runs it).
// Literals rather than parameters, so that the planner matches the partial
// indexes' predicates ("status" = 'pending') with generic plans too. The
// names are the code's own constants, never input.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace effectd::sql {

std::string withStatusLiterals(std::string_view text, std::span<const std::string_view> names);

}  // namespace effectd::sql
