// How operators see effects, events and transitions as JSON: one shape for
// the CLI's --json and the admin API, so a script can move between them.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "intake/stored_events.hpp"
#include "queue/effect_admin.hpp"
#include "queue/effect_transitions.hpp"

namespace effectd::daemon {

nlohmann::json toJson(const queue::EffectRow& effect);
nlohmann::json toJson(const intake::StoredEvent& event);
nlohmann::json toJson(const queue::EffectTransition& transition);
nlohmann::json toJson(const queue::EffectStat& stat);

}  // namespace effectd::daemon
