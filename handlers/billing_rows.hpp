// The SQL around a batch's handlers: reads (and locks) what the batch's
// events touch before they run, writes back what they changed after. Each
// function is one statement for the whole batch.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "handlers/billing_state.hpp"

namespace pqxx {
class transaction_base;
}

namespace effectd::handlers {

// Locks the Subscription rows of these organizations and customers, in
// organization order: concurrent batches lock in one order and never wait
// for each other in a cycle.
std::vector<SubscriptionRow> lockRows(pqxx::transaction_base& tx,
                                      const std::set<std::string>& organizations,
                                      const std::set<std::string>& customers);

// Inserts the rows the batch creates, unless another writer made the row
// first; returns the organizations whose rows this call inserted.
std::set<std::string> insertRows(pqxx::transaction_base& tx, const BillingState& state);

// The organizations that exist among these, with their email recipients.
void loadOrganizations(pqxx::transaction_base& tx, const std::set<std::string>& organizations,
                       BillingState& state);

// Writes the new links and the applied subscription states.
void writeRows(pqxx::transaction_base& tx, const BillingState& state);

// Events of these customers that failed for want of a link are due now.
void wakeWaitingEvents(pqxx::transaction_base& tx, const std::vector<std::string>& customers);

}  // namespace effectd::handlers
