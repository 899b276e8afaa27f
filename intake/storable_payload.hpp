// PostgreSQL's jsonb refuses some JSON that is valid: the escape \u0000 (a
// customer's description or metadata can hold one) and unpaired UTF-16
// surrogates. Refusing such an event would make every retry of Stripe's
// fail the same way until Stripe gives up, and the change it carries (a
// cancellation, say) would never apply. So the jsonb copy gets U+FFFD in
// their place, and the exact bytes that were signed are kept beside it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace effectd::intake {

// The text with each \u0000 and each unpaired surrogate escape replaced by
// \ufffd (the same length); nullopt when jsonb takes the text as it is.
// Any text: in JSON, escapes occur only inside strings.
std::optional<std::string> jsonbStorable(std::string_view json);

}  // namespace effectd::intake
