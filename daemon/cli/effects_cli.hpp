// `effectd effects list|show|tail|retry|cancel|stats|enqueue`: the
// operator's view of OutboundEffect, and a way to enqueue by hand.
#pragma once

#include <string>

#include "config/config.hpp"
#include "queue/effect_admin.hpp"
#include "queue/effect_transitions.hpp"
#include "queue/enqueue.hpp"

namespace effectd::daemon {

struct EnqueueRequest {
  std::string kind;
  std::string key;
  std::string payload;
  std::string runAt;
  std::string organizationId;
};

struct TailOptions {
  queue::TransitionFilter filter;
  int lines = 10;  // history printed first
  bool json = false;
};

int effectsList(const config::Config& config, const queue::EffectFilter& filter, bool asJson);
int effectsShow(const config::Config& config, const std::string& idOrKey, bool asJson);
// Follows transitions until SIGINT or SIGTERM (exit 0), reconnecting after
// a lost connection and printing what changed meanwhile.
int effectsTail(const config::Config& config, const TailOptions& options);
struct SteerOptions {
  queue::EffectSelection selection;
  queue::OperatorCommand command = queue::OperatorCommand::Retry;
  bool yes = false;  // no confirmation for a filter
};
// One effect by id or key, or every one a filter selects: then the count
// is shown and confirmed on a terminal (or --yes), as `rm -i` would.
int effectsSteer(const config::Config& config, const SteerOptions& options);
int effectsStats(const config::Config& config, bool asJson);
int effectsEnqueue(const config::Config& config, const EnqueueRequest& request);

}  // namespace effectd::daemon
