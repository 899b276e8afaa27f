#include "daemon/cli/cli.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "base/log.hpp"
#include "config/config.hpp"
#include "config/settings.hpp"
#include "daemon/cli/dev_trigger.hpp"
#include "daemon/cli/effects_cli.hpp"
#include "daemon/cli/events_cli.hpp"
#include "daemon/open_files.hpp"
#include "daemon/serve.hpp"
#include "handlers/event_status.hpp"
#include "queue/effect_status.hpp"
#include "sql/connection.hpp"
#include "sql/error_text.hpp"
#include "sql/migrator.hpp"
#include "sql/prepared_statement.hpp"
#include "sql/schema_check.hpp"

namespace effectd::daemon {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

// Loads the configuration for a command, or prints every problem.
std::optional<config::Config> loadConfig(config::Purpose purpose) {
  auto loaded = config::load(config::processEnvironment(), purpose);
  if (!loaded.ok()) {
    std::cerr << "effectd: configuration problems:\n";
    for (const auto& p : loaded.problems) std::cerr << "  - " << p << "\n";
    return std::nullopt;
  }
  log::configure(
      loaded.config.logFormat == config::LogFormat::Json ? log::Format::Json : log::Format::Text,
      loaded.config.logLevel);
  sql::useStatementMode(
      loaded.config.transactionPooler ? sql::StatementMode::Unnamed : sql::StatementMode::Named,
      loaded.config.databasePooler == "auto");
  if (purpose == config::Purpose::Serve) {
    // Always said: an unrecognised pooler shows up as prepared-statement
    // errors, and this line names the setting that ends them.
    log::info("database statements",
              {{"statements", loaded.config.transactionPooler ? "unnamed" : "named"},
               {"why", loaded.config.poolerReason}});
    for (const auto& note : loaded.notes) log::info(note);
  }
  return loaded.config;
}

int configCheck(bool asJson) {
  auto loaded = config::load(config::processEnvironment(), config::Purpose::Serve);
  const auto settings = config::describe(loaded.config);
  if (const auto files = fitOpenFiles(loaded.config, RaiseLimit::No); !files.note.empty()) {
    loaded.notes.push_back(files.note);
  }
  if (asJson) {
    nlohmann::json out{{"ok", loaded.ok()}, {"problems", loaded.problems}};
    for (const auto& s : settings) out["settings"][s.name] = s.value;
    out["notes"] = loaded.notes;
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& s : settings) std::cout << s.name << "=" << s.value << "\n";
    if (!loaded.notes.empty()) std::cout << "\n";
    for (const auto& note : loaded.notes) std::cout << "note: " << note << "\n";
    if (loaded.ok()) {
      std::cout << "configuration ok\n";
    } else {
      std::cout << "\n" << loaded.problems.size() << " problem(s):\n";
      for (const auto& p : loaded.problems) std::cout << "  - " << p << "\n";
    }
  }
  return loaded.ok() ? kOk : kUsage;
}

int migrateCommand(bool statusOnly, bool asJson) {
  auto config = loadConfig(config::Purpose::DatabaseOnly);
  if (!config) return kUsage;
  try {
    sql::DirectConnection conn(config->databaseUrl);
    const auto& migrations = sql::embeddedMigrations();
    if (!statusOnly) {
      const auto result = sql::migrate(*conn, migrations);
      if (!result.changedSinceApplied.empty()) {
        for (const auto& name : result.changedSinceApplied) {
          std::cerr << "migration " << name
                    << " was changed after it was applied (its checksum differs)\n";
        }
        std::cerr << "refusing to migrate: nothing applied. A migration must never be edited "
                     "once applied; compare this build with the database "
                     "(effectd migrate --status)\n";
        return kFailed;
      }
      if (result.applied.empty()) {
        std::cout << "database is up to date (" << migrations.size() << " migrations)\n";
      }
      for (const auto& name : result.applied) std::cout << "applied " << name << "\n";
      return kOk;
    }
    const auto status = sql::migrationStatus(*conn, migrations);
    int pending = 0;
    bool mismatch = false;
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : status) {
      pending += s.applied ? 0 : 1;
      mismatch = mismatch || s.checksumMismatch;
      if (asJson) {
        out.push_back(
            {{"version", s.version},
             {"name", s.name},
             {"applied", s.applied},
             {"appliedAt", s.appliedAt.empty() ? nlohmann::json() : nlohmann::json(s.appliedAt)},
             {"checksumMismatch", s.checksumMismatch}});
      } else {
        std::cout << (s.applied ? "applied  " : "pending  ") << s.name
                  << (s.applied ? "  " + s.appliedAt : "")
                  << (s.checksumMismatch ? "  (changed since it was applied!)" : "") << "\n";
      }
    }
    if (asJson) std::cout << out.dump(2) << "\n";
    return pending == 0 && !mismatch ? kOk : kFailed;
  } catch (const std::exception& e) {
    std::cerr << "effectd migrate: " << sql::errorText(e) << "\n";
    return kFailed;
  }
}

int schemaCheck(bool asJson) {
  auto config = loadConfig(config::Purpose::DatabaseOnly);
  if (!config) return kUsage;
  try {
    sql::DirectConnection conn(config->databaseUrl);
    const auto problems = sql::checkSchema(*conn);
    if (asJson) {
      std::cout << nlohmann::json{{"ok", problems.empty()}, {"problems", problems}}.dump(2) << "\n";
    } else if (problems.empty()) {
      std::cout << "schema ok\n";
    } else {
      for (const auto& p : problems) std::cout << p << "\n";
    }
    return problems.empty() ? kOk : kFailed;
  } catch (const std::exception& e) {
    std::cerr << "effectd schema check: " << sql::errorText(e) << "\n";
    return kFailed;
  }
}

}  // namespace

int runCli(int argc, char** argv) {
  CLI::App app{"effectd: Stripe webhooks and outbound effects for SyntaxKit"};
  app.require_subcommand(1);
  int exitCode = kOk;

  auto* serveCmd = app.add_subcommand("serve", "Receive webhooks until SIGTERM/SIGINT");
  serveCmd->callback([&] {
    auto config = loadConfig(config::Purpose::Serve);
    exitCode = config ? serve(*config) : kUsage;
  });

  bool statusOnly = false;
  bool json = false;
  auto* migrateCmd = app.add_subcommand("migrate", "Apply pending schema migrations");
  migrateCmd->add_flag("--status", statusOnly, "List migrations; exit 1 when any is pending");
  migrateCmd->add_flag("--json", json, "Machine-readable output (with --status)");
  migrateCmd->callback([&] { exitCode = migrateCommand(statusOnly, json); });

  auto* schemaCmd = app.add_subcommand("schema", "Inspect the database schema");
  schemaCmd->require_subcommand(1);
  auto* schemaCheckCmd =
      schemaCmd->add_subcommand("check", "Name every table, column, index effectd misses");
  schemaCheckCmd->add_flag("--json", json, "Machine-readable output");
  schemaCheckCmd->callback([&] { exitCode = schemaCheck(json); });

  auto* configCmd = app.add_subcommand("config", "Inspect the configuration");
  configCmd->require_subcommand(1);
  auto* configCheckCmd =
      configCmd->add_subcommand("check", "Show the effective configuration, secrets redacted");
  configCheckCmd->add_flag("--json", json, "Machine-readable output");
  configCheckCmd->callback([&] { exitCode = configCheck(json); });
  configCmd->add_subcommand("example", "Print an environment file with every setting's default")
      ->callback([&] { std::cout << config::exampleFile(); });
  configCmd->add_subcommand("reference", "Print the table of settings (Markdown, for the README)")
      ->callback([&] { std::cout << config::referenceTable(); });

  intake::EventFilter filter;
  std::string eventId;
  auto* eventsCmd = app.add_subcommand("events", "Inspect and replay stored Stripe events");
  eventsCmd->require_subcommand(1);
  auto addFilters = [&](CLI::App* cmd) {
    cmd->add_option("--status", filter.status, "received, processed, ignored or failed")
        ->check(CLI::IsMember(handlers::eventStatusNames()));
    cmd->add_option("--type", filter.type, "Event type, e.g. invoice.paid");
    cmd->add_option("--since", filter.since, "Received at or after (ISO 8601)");
    cmd->add_option("--limit", filter.limit, "At most this many (default 100)");
    cmd->add_flag("--json", json, "Machine-readable output");
  };
  auto withConfig = [&](auto f) {
    return [&, f] {
      auto config = loadConfig(config::Purpose::DatabaseOnly);
      exitCode = config ? f(*config) : kUsage;
    };
  };
  auto* listCmd = eventsCmd->add_subcommand("list", "List events, oldest first");
  addFilters(listCmd);
  listCmd->callback(
      withConfig([&](const config::Config& c) { return eventsList(c, filter, json); }));
  auto* showCmd = eventsCmd->add_subcommand("show", "Show one event with its payload");
  showCmd->add_option("id", eventId, "Event id (evt_...)")->required();
  showCmd->add_flag("--json", json, "One line of JSON");
  showCmd->callback(
      withConfig([&](const config::Config& c) { return eventsShow(c, eventId, json); }));
  auto* replayCmd = eventsCmd->add_subcommand("replay", "Re-run the handlers of stored events");
  replayCmd->add_option("id", eventId, "Event id (evt_...)");
  addFilters(replayCmd);
  bool relink = false;
  replayCmd->add_flag("--relink", relink,
                      "Let this checkout move its organization away from a customer whose "
                      "subscription is live (after checking that the move is right)");
  replayCmd->callback(withConfig([&](const config::Config& c) {
    filter.id = eventId;
    return eventsReplay(c, filter, json, relink);
  }));

  queue::EffectFilter effectFilter;
  std::string effectRef;
  EnqueueRequest enqueueRequest;
  TailOptions tailOptions;
  auto* effectsCmd = app.add_subcommand("effects", "Inspect and steer the OutboundEffect queue");
  effectsCmd->require_subcommand(1);
  auto* effectsListCmd = effectsCmd->add_subcommand("list", "List effects, newest first");
  effectsListCmd
      ->add_option("--status", effectFilter.status,
                   "pending, running, sent, dead, cancelled or unknown")
      ->check(CLI::IsMember(queue::effectStatusNames()));
  effectsListCmd->add_option("--kind", effectFilter.kind, "email, analytics or webhook");
  effectsListCmd->add_option("--key-prefix", effectFilter.keyPrefix, "Keys starting with this");
  effectsListCmd->add_option("--limit", effectFilter.limit, "At most this many (default 100)");
  effectsListCmd->add_flag("--json", json, "Machine-readable output");
  effectsListCmd->callback(
      withConfig([&](const config::Config& c) { return effectsList(c, effectFilter, json); }));
  auto* effectsShowCmd = effectsCmd->add_subcommand("show", "Show one effect with its payload");
  effectsShowCmd->add_option("id-or-key", effectRef, "Effect id or key")->required();
  effectsShowCmd->add_flag("--json", json, "One line of JSON");
  effectsShowCmd->callback(
      withConfig([&](const config::Config& c) { return effectsShow(c, effectRef, json); }));
  auto* effectsTailCmd =
      effectsCmd->add_subcommand("tail", "Follow effects live, one line per transition");
  effectsTailCmd->add_option("--status", tailOptions.filter.status,
                             "Only transitions into this status");
  effectsTailCmd->add_option("--kind", tailOptions.filter.kind, "email, analytics or webhook");
  effectsTailCmd->add_option("-n,--lines", tailOptions.lines,
                             "Recent changes shown first (default 10)");
  effectsTailCmd->add_flag("--json", tailOptions.json, "One JSON object per line");
  effectsTailCmd->callback(
      withConfig([&](const config::Config& c) { return effectsTail(c, tailOptions); }));
  SteerOptions steer;
  auto addSteer = [&](const char* name, const char* help, queue::OperatorCommand command) {
    auto* cmd = effectsCmd->add_subcommand(name, help);
    cmd->add_option("id-or-key", steer.selection.idOrKey, "Effect id or key");
    cmd->add_option("--status", steer.selection.status, "Only effects in this status")
        ->check(CLI::IsMember(queue::effectStatusNames()));
    cmd->add_option("--kind", steer.selection.kind, "email, analytics or webhook");
    cmd->add_option("--key-prefix", steer.selection.keyPrefix, "Keys starting with this");
    cmd->add_option("--since", steer.selection.since, "Enqueued at or after (ISO 8601)");
    cmd->add_flag("-y,--yes", steer.yes,
                  "Do not ask before changing what a filter selects, or before retrying an "
                  "unknown effect");
    cmd->callback(withConfig([&, command](const config::Config& c) {
      steer.command = command;
      return effectsSteer(c, steer);
    }));
  };
  addSteer("retry", "Send dead, unknown or cancelled effects again", queue::OperatorCommand::Retry);
  addSteer("cancel", "Never send pending, dead or unknown effects", queue::OperatorCommand::Cancel);
  auto* effectsStatsCmd = effectsCmd->add_subcommand(
      "stats", "Counts by kind and status, the last minute's rate, the oldest due effect");
  effectsStatsCmd->add_flag("--json", json, "Machine-readable output");
  effectsStatsCmd->callback(
      withConfig([&](const config::Config& c) { return effectsStats(c, json); }));
  auto* effectsEnqueueCmd = effectsCmd->add_subcommand("enqueue", "Enqueue an effect by hand");
  effectsEnqueueCmd->add_option("--kind", enqueueRequest.kind, "email, analytics or webhook")
      ->required();
  effectsEnqueueCmd->add_option("--key", enqueueRequest.key, "Semantic key (dedup)")->required();
  effectsEnqueueCmd->add_option("--payload", enqueueRequest.payload, "JSON object")->required();
  effectsEnqueueCmd->add_option("--run-at", enqueueRequest.runAt, "Not before (ISO 8601)");
  effectsEnqueueCmd->add_option("--organization", enqueueRequest.organizationId, "Organization id");
  effectsEnqueueCmd->callback(
      withConfig([&](const config::Config& c) { return effectsEnqueue(c, enqueueRequest); }));

  TriggerOptions trigger{.type = "", .organizationId = "org_demo", .url = ""};
  auto* devCmd = app.add_subcommand("dev", "Development helpers");
  devCmd->require_subcommand(1);
  auto* triggerCmd =
      devCmd->add_subcommand("trigger", "Sign a sample event and post it to a running daemon");
  triggerCmd->add_option("type", trigger.type, "Event type, e.g. customer.subscription.created")
      ->required();
  triggerCmd->add_option("--organization", trigger.organizationId,
                         "Organization id for metadata (default org_demo)");
  triggerCmd->add_option("--url", trigger.url,
                         "Where to post (default http://EFFECTD_LISTEN/webhooks/stripe)");
  triggerCmd->callback([&] {
    auto config = loadConfig(config::Purpose::Client);
    exitCode = config ? devTrigger(*config, trigger) : kUsage;
  });

  app.add_subcommand("version", "Print the version")->callback([] {
    std::cout << "effectd " << EFFECTD_VERSION << "\n";
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  return exitCode;
}

}  // namespace effectd::daemon
