#include "daemon/channel_factory.hpp"

#include "queue/channels/file_email.hpp"
#include "queue/channels/log_analytics.hpp"
#include "queue/channels/providers.hpp"
#include "queue/channels/smtp_email.hpp"

namespace effectd::daemon {

using namespace effectd::queue;
namespace {

// config::load validated and normalized every entry.
WebhookTargets webhookTargets(const config::Config& config) {
  WebhookTargets targets;
  for (const auto& entry : config.webhookAllowedHosts) {
    if (auto a = Authority::parse(entry, 443)) targets.https.insert(std::move(*a));
  }
  for (const auto& entry : config.webhookAllowHttpHosts) {
    if (auto a = Authority::parse(entry, 80)) targets.http.insert(std::move(*a));
  }
  for (const auto& entry : config.webhookAllowPrivateAddresses) {
    if (auto n = http::IpNetwork::parse(entry)) targets.addresses.allowedNonPublic.push_back(*n);
  }
  return targets;
}

}  // namespace

std::shared_ptr<Channels> makeChannels(const config::Config& config) {
  auto channels = std::make_shared<Channels>();
  // One client, one TLS context and trust store, for every provider.
  auto client = std::make_shared<const HttpClient>(
      HttpClient::Options{.caFile = config.caFile,
                          .connectTimeout = config.connectTimeout,
                          .requestTimeout = config.providerTimeout,
                          .abort = channels->abort});
  auto url = [](const std::string& text) {
    return Url::parse(text).value_or(Url{});  // config::load validated it
  };
  if (config.emailProvider == "file") {
    channels->email = std::make_unique<FileEmailChannel>(config.emailFileDir, config.emailFrom);
  } else if (config.emailProvider == "resend") {
    channels->email = std::make_unique<ResendChannel>(client, url(config.resendApiUrl),
                                                      config.resendApiKey, config.emailFrom);
  } else if (config.emailProvider == "postmark") {
    channels->email = std::make_unique<PostmarkChannel>(
        client, url(config.postmarkApiUrl), config.postmarkServerToken, config.emailFrom);
  } else if (config.emailProvider == "smtp") {
    if (auto smtp = SmtpSettings::parse(config.smtpUrl)) {
      smtp->caFile = config.caFile;
      smtp->timeout = config.providerTimeout;
      channels->email =
          std::make_unique<SmtpEmailChannel>(*smtp, config.emailFrom, channels->abort);
    }
  }
  if (config.analyticsProvider == "log") {
    channels->analytics = std::make_unique<LogAnalyticsChannel>();
  } else if (config.analyticsProvider == "posthog") {
    channels->analytics =
        std::make_unique<PostHogChannel>(client, url(config.posthogHost), config.posthogApiKey);
  } else if (config.analyticsProvider == "segment") {
    channels->analytics =
        std::make_unique<SegmentChannel>(client, url(config.segmentApiUrl), config.segmentWriteKey);
  }
  // Without allowed hosts, webhook effects stay pending for a daemon that has them.
  if (!config.webhookAllowedHosts.empty() || !config.webhookAllowHttpHosts.empty()) {
    channels->webhook = std::make_unique<WebhookChannel>(client, webhookTargets(config),
                                                         config.webhookSigningSecret);
  }
  // Applied by the drainer before a delivery slot is taken.
  auto& lanes = channels->lanes;
  auto limits = [&](EffectKind kind, double perSecond, int concurrency) {
    lanes.byKind[static_cast<std::size_t>(kind)] = {.maxConcurrency = concurrency,
                                                    .maxPerSecond = perSecond};
  };
  limits(EffectKind::Email, config.emailMaxPerSecond, config.emailMaxConcurrency);
  limits(EffectKind::Analytics, config.analyticsMaxPerSecond, config.analyticsMaxConcurrency);
  limits(EffectKind::Webhook, config.webhookMaxPerSecond, config.webhookMaxConcurrency);
  lanes.maxPerOrigin = config.webhookMaxPerOrigin;
  lanes.firstPause = config.refusedCredentialsPause;
  lanes.maxPause = config.refusedCredentialsPause * 20;
  return channels;
}

}  // namespace effectd::daemon
