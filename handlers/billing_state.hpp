// What a batch of events reads and writes, held in memory while the batch's
// handlers run: the Subscription rows it locked, the links from Stripe
// customers to organizations, and the organizations' email recipients.
// Handlers decide against this state and write into it; event_batch reads
// it from the database before and writes it back after, in a fixed number of
// statements whatever the batch's size.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "handlers/stripe_objects.hpp"
#include "handlers/subscription_ordering.hpp"
#include "queue/enqueue.hpp"

namespace effectd::handlers {

struct SubscriptionRow {
  std::string organizationId;
  std::string customer;                     // stripeCustomerId
  OrganizationSubscriptions subscriptions;  // stripeSubscriptions; the row shows shown()
  std::optional<std::int64_t> linkedAt;     // stripeLinkedAt: the event that set the customer
  bool livemode = false;                    // for a row this batch creates
  bool stored = true;                       // false: this batch creates it
  bool relinked = false;                    // its customer changed
  bool subscriptionsChanged = false;        // write shown() and the list
};

struct Recipients {
  std::string organizationName;
  std::vector<std::string> emails;  // owners, else admins
};

class BillingState {
 public:
  // Loading: rows as locked, organizations as they exist.
  void addRow(SubscriptionRow row);
  void addOrganization(const std::string& id, Recipients recipients);

  bool organizationExists(const std::string& id) const;
  SubscriptionRow* row(const std::string& organizationId);
  std::optional<std::string> organizationOf(const std::string& customer) const;
  // A new row linking the organization to the customer (stored = false).
  SubscriptionRow& createRow(const std::string& organizationId, const std::string& customer,
                             bool livemode, std::int64_t linkedAt);
  // Moves (or makes) the organization's link to this customer, as of the
  // time of the event that does it.
  void link(const std::string& organizationId, const std::string& customer, bool livemode,
            std::int64_t linkedAt);
  // The organization's recipients; the fallback when it has none.
  Recipients recipients(const std::string& organizationId, const std::string& fallbackEmail) const;

  // Customers newly linked by a checkout: their waiting events are due now.
  void wake(const std::string& customer) { customersToWake_.push_back(customer); }
  const std::vector<std::string>& customersToWake() const { return customersToWake_; }

  const std::map<std::string, SubscriptionRow>& rows() const { return rows_; }
  std::map<std::string, SubscriptionRow>& rows() { return rows_; }

 private:
  std::map<std::string, SubscriptionRow> rows_;  // by organization, in lock order
  std::unordered_map<std::string, std::string> organizationByCustomer_;
  std::unordered_map<std::string, Recipients> organizations_;
  std::vector<std::string> customersToWake_;
};

}  // namespace effectd::handlers
