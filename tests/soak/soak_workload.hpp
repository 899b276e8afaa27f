// What a soak sends and what it must cause: organizations with an owner,
// and per organization a subscription that starts, an invoice paid and an
// invoice whose payment fails, alternating between Stripe's two API shapes.
// Five effects per organization: two emails and three analytics events.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "tests/soak/stripe_traffic.hpp"

namespace pqxx {
class connection_base;
}

namespace effectd::testing {
class StripeSigner;
}

namespace effectd::soak {

struct Workload {
  std::vector<SignedEvent> events;  // in the order Stripe first sends them
  std::set<std::string> effectKeys;
};

// `tag` keeps the ids of cases sharing a database apart.
Workload makeWorkload(const std::string& tag, int organizations, testing::StripeSigner& signer,
                      const std::string& secret);
void seedOrganizations(pqxx::connection_base& conn, const std::string& tag, int organizations);

}  // namespace effectd::soak
