#include "handlers/billing_state.hpp"

namespace effectd::handlers {

void BillingState::addRow(SubscriptionRow row) {
  if (!row.customer.empty()) organizationByCustomer_[row.customer] = row.organizationId;
  auto id = row.organizationId;
  rows_.insert_or_assign(std::move(id), std::move(row));
}

void BillingState::addOrganization(const std::string& id, Recipients recipients) {
  organizations_.insert_or_assign(id, std::move(recipients));
}

bool BillingState::organizationExists(const std::string& id) const {
  return organizations_.count(id) > 0;
}

SubscriptionRow* BillingState::row(const std::string& organizationId) {
  const auto it = rows_.find(organizationId);
  return it == rows_.end() ? nullptr : &it->second;
}

std::optional<std::string> BillingState::organizationOf(const std::string& customer) const {
  const auto it = organizationByCustomer_.find(customer);
  if (it == organizationByCustomer_.end()) return std::nullopt;
  return it->second;
}

SubscriptionRow& BillingState::createRow(const std::string& organizationId,
                                         const std::string& customer, bool livemode,
                                         std::int64_t linkedAt) {
  SubscriptionRow row;
  row.organizationId = organizationId;
  row.customer = customer;
  row.linkedAt = linkedAt;
  row.livemode = livemode;
  row.stored = false;
  organizationByCustomer_[customer] = organizationId;
  return rows_.insert_or_assign(organizationId, std::move(row)).first->second;
}

void BillingState::link(const std::string& organizationId, const std::string& customer,
                        bool livemode, std::int64_t linkedAt) {
  auto* existing = row(organizationId);
  if (!existing) {
    createRow(organizationId, customer, livemode, linkedAt);
    return;
  }
  if (existing->customer == customer) return;
  existing->linkedAt = linkedAt;
  existing->livemode = livemode;
  if (organizationByCustomer_[existing->customer] == organizationId) {
    organizationByCustomer_.erase(existing->customer);
  }
  existing->customer = customer;
  existing->relinked = existing->stored;
  organizationByCustomer_[customer] = organizationId;
}

Recipients BillingState::recipients(const std::string& organizationId,
                                    const std::string& fallbackEmail) const {
  Recipients out;
  if (const auto it = organizations_.find(organizationId); it != organizations_.end()) {
    out = it->second;
  }
  if (out.emails.empty() && !fallbackEmail.empty()) out.emails.push_back(fallbackEmail);
  return out;
}

}  // namespace effectd::handlers
