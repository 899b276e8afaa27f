// Child processes for end-to-end tests: the real effectd binary, node, pg.sh.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace effectd::testing {

using EnvOverrides = std::map<std::string, std::string>;

struct CommandResult {
  int exitCode = -1;
  std::string output;  // stdout and stderr together
};

// Runs a command to completion, with the current environment plus `env`.
CommandResult runCommand(const std::vector<std::string>& argv, const EnvOverrides& env = {});

// A running child whose stdout and stderr go to a log file. Killed (SIGKILL)
// on destruction if still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const EnvOverrides& env, std::string logPath);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signal` and waits; the exit code, or 128+signal, or nullopt on timeout.
  std::optional<int> stop(int signal, std::chrono::milliseconds timeout);
  std::string log() const;
  const std::string& logPath() const { return logPath_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string logPath_;
};

// A child with pipes to its stdin and stdout, for line-based helpers.
class PipedProcess {
 public:
  explicit PipedProcess(const std::vector<std::string>& argv);
  ~PipedProcess();
  PipedProcess(const PipedProcess&) = delete;
  PipedProcess& operator=(const PipedProcess&) = delete;
  void writeLine(const std::string& line);
  std::string readLine();

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  std::string buffered_;
};

std::string readFile(const std::string& path);
std::string tempDirectory(const std::string& prefix);

}  // namespace effectd::testing
