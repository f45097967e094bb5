#include "tests/support/Process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string_view>
#include <system_error>
#include <utility>

extern char** environ;

namespace test_support {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

milliseconds remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? left : milliseconds(0);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// A pipe whose ends are not inherited by children (dup2 onto 1 and 2 clears the flag there).
std::array<int, 2> cloexec_pipe() {
  std::array<int, 2> fds{-1, -1};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  return fds;
}

}  // namespace

Process::Process(std::vector<std::string> argv) : argv_(std::move(argv)) {
  auto out = cloexec_pipe();
  std::array<int, 2> err{-1, -1};
  try {
    err = cloexec_pipe();
  } catch (...) {
    close_fd(out[0]);
    close_fd(out[1]);
    throw;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);

  // The child must not inherit a blocked or ignored SIGTERM/SIGINT/SIGPIPE from the test
  // process (a loop thread may have masked signals): tests signal children and expect defaults.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (auto& arg : argv_) args.push_back(arg.data());
  args.push_back(nullptr);
  int rc = ::posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);

  close_fd(out[1]);
  close_fd(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  if (rc != 0) {
    pid_ = -1;
    close_fd(out_fd_);
    close_fd(err_fd_);
    throw std::system_error(rc, std::generic_category(), "posix_spawnp " + argv_.front());
  }
}

Process::~Process() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  close_fd(out_fd_);
  close_fd(err_fd_);
}

void Process::pump(milliseconds timeout) {
  std::array<pollfd, 2> fds{pollfd{out_fd_, POLLIN, 0}, pollfd{err_fd_, POLLIN, 0}};
  // poll() ignores negative descriptors, so with both pipes at EOF this is just a sleep.
  int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
  if (ready <= 0) return;
  for (auto& pfd : fds) {
    if (pfd.fd < 0 || pfd.revents == 0) continue;
    std::array<char, 4096> buf{};
    ssize_t n = ::read(pfd.fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    bool is_out = pfd.fd == out_fd_;
    if (n <= 0) {
      close_fd(is_out ? out_fd_ : err_fd_);
      continue;
    }
    std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
    if (is_out) {
      out_.append(chunk);
      out_seen_.append(chunk);
    } else {
      err_.append(chunk);
    }
  }
}

std::optional<std::string> Process::read_line(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto nl = out_.find('\n'); nl != std::string::npos) {
      std::string line = out_.substr(0, nl);
      out_.erase(0, nl + 1);
      return line;
    }
    if (out_fd_ < 0 && !out_.empty()) return std::exchange(out_, {});  // a last line, unended
    if (out_fd_ < 0 || Clock::now() >= deadline) return std::nullopt;
    pump(remaining(deadline));
  }
}

std::optional<int> Process::try_wait() {
  if (exit_code_ || pid_ <= 0) return exit_code_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) exit_code_ = decode_status(status);
  return exit_code_;
}

std::optional<int> Process::wait(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!try_wait()) {
    if (Clock::now() >= deadline) return std::nullopt;
    pump(std::min(remaining(deadline), milliseconds(20)));
  }
  // Collect the last words; bounded in case a grandchild still holds a pipe open.
  auto drain_deadline = Clock::now() + milliseconds(1000);
  while ((out_fd_ >= 0 || err_fd_ >= 0) && Clock::now() < drain_deadline) pump(milliseconds(50));
  return exit_code_;
}

bool Process::wait_for_stderr(const std::string& text, std::size_t times, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::size_t found = 0;
    for (auto at = err_.find(text); at != std::string::npos; at = err_.find(text, at + 1)) ++found;
    if (found >= times) return true;
    if (err_fd_ < 0 || Clock::now() >= deadline) return false;
    pump(std::min(remaining(deadline), milliseconds(50)));
  }
}

void Process::signal(int signum) {
  // Until waitpid() reaped the child its PID cannot be reused, so this hits only our child.
  if (pid_ > 0 && !exit_code_) ::kill(pid_, signum);
}

std::string Process::transcript() {
  pump(milliseconds(0));
  std::string text = "argv:";
  for (const auto& arg : argv_) text += " " + arg;
  text += "\nexit: " + (exit_code_ ? std::to_string(*exit_code_) : std::string("still running"));
  text += "\nstdout:\n" + out_seen_ + "\nstderr:\n" + err_;
  return text;
}

}  // namespace test_support
