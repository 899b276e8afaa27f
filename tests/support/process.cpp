#include "tests/support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace effectd::testing {
namespace {

std::vector<std::string> mergedEnvironment(const EnvOverrides& env) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    const auto name = entry.substr(0, entry.find('='));
    if (!env.count(name)) out.push_back(entry);
  }
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

pid_t spawn(const std::vector<std::string>& argv, const EnvOverrides& env,
            posix_spawn_file_actions_t* actions) {
  auto args = argv;
  auto envs = mergedEnvironment(env);
  auto argp = pointers(args);
  auto envp = pointers(envs);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argp[0], actions, nullptr, argp.data(), envp.data());
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string tempDirectory(const std::string& prefix) {
  std::string templ = "/tmp/" + prefix + "XXXXXX";
  if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  return templ;
}

CommandResult runCommand(const std::vector<std::string>& argv, const EnvOverrides& env) {
  const auto dir = tempDirectory("effectd-cmd-");
  const auto logPath = dir + "/output";
  ChildProcess child(argv, env, logPath);
  CommandResult result;
  result.exitCode = child.stop(0, std::chrono::minutes(5)).value_or(-1);
  result.output = child.log();
  std::remove(logPath.c_str());
  rmdir(dir.c_str());
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const EnvOverrides& env,
                           std::string logPath)
    : logPath_(std::move(logPath)) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, logPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  try {
    pid_ = spawn(argv, env, &actions);
  } catch (...) {
    posix_spawn_file_actions_destroy(&actions);
    throw;
  }
  posix_spawn_file_actions_destroy(&actions);
}

ChildProcess::~ChildProcess() {
  if (running()) stop(SIGKILL, std::chrono::seconds(10));
}

bool ChildProcess::running() {
  if (status_ || pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = decode(status);
    return false;
  }
  return true;
}

std::optional<int> ChildProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (!running()) return status_;
  if (signal != 0) kill(pid_, signal);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

std::string ChildProcess::log() const {
  return readFile(logPath_);
}

PipedProcess::PipedProcess(const std::vector<std::string>& argv) {
  int toChild[2];
  int fromChild[2];
  if (pipe2(toChild, O_CLOEXEC) != 0 || pipe2(fromChild, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, toChild[0], 0);
  posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1);
  pid_ = spawn(argv, {}, &actions);
  posix_spawn_file_actions_destroy(&actions);
  close(toChild[0]);
  close(fromChild[1]);
  in_ = toChild[1];
  out_ = fromChild[0];
}

PipedProcess::~PipedProcess() {
  if (in_ >= 0) close(in_);
  if (out_ >= 0) close(out_);
  if (pid_ > 0) {
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

void PipedProcess::writeLine(const std::string& line) {
  const std::string data = line + "\n";
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = write(in_, data.data() + done, data.size() - done);
    if (n <= 0) throw std::runtime_error("helper process closed its input");
    done += static_cast<std::size_t>(n);
  }
}

std::string PipedProcess::readLine() {
  for (;;) {
    if (auto nl = buffered_.find('\n'); nl != std::string::npos) {
      auto line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return line;
    }
    char chunk[4096];
    const auto n = read(out_, chunk, sizeof chunk);
    if (n <= 0) throw std::runtime_error("helper process closed its output");
    buffered_.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace effectd::testing
