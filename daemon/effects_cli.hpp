// `effectd effects list|show|retry|cancel|stats|enqueue`: the operator's view
// of OutboundEffect, and a way to enqueue by hand.
#pragma once

#include <string>

#include "config/config.hpp"
#include "queue/effect_admin.hpp"
#include "queue/enqueue.hpp"

namespace effectd::daemon {

struct EnqueueRequest {
  std::string kind;
  std::string key;
  std::string payload;
  std::string runAt;
  std::string organizationId;
};

int effectsList(const config::Config& config, const queue::EffectFilter& filter, bool asJson);
int effectsShow(const config::Config& config, const std::string& idOrKey, bool asJson);
int effectsRetry(const config::Config& config, const std::string& idOrKey);
int effectsCancel(const config::Config& config, const std::string& idOrKey);
int effectsStats(const config::Config& config, bool asJson);
int effectsEnqueue(const config::Config& config, const EnqueueRequest& request);

}  // namespace effectd::daemon
