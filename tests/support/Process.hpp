// A child process for tests: a peer program (python3, socat) or the echo binary, with its
// stdout and stderr captured so a failing test can show what the child said.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace test_support {

// Thread-safety: none; use one Process from one thread.
// Lifetime: the destructor SIGKILLs and reaps the child if it is still running, so a failed
// test never leaves a peer or server behind. Only the child this object started is signalled.
class Process {
 public:
  // Starts argv[0] (looked up in PATH) with stdin from /dev/null and stdout/stderr piped.
  // Throws std::system_error when the program cannot be started.
  explicit Process(std::vector<std::string> argv);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const noexcept { return pid_; }

  // The next line of stdout without its '\n' (at EOF, what is left after the last '\n', if
  // anything); nullopt on EOF or when `timeout` passes first.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  // The exit code (128 + N when killed by signal N); nullopt when `timeout` passes first.
  // Keeps draining stdout and stderr meanwhile, so a chatty child cannot block on a full pipe.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // The exit code if the child has already exited; never blocks.
  std::optional<int> try_wait();

  // Waits until the child's stderr holds `text` at least `times` times (a log line that says a
  // reload happened); false when `timeout` passes first or stderr closed.
  bool wait_for_stderr(const std::string& text, std::size_t times,
                       std::chrono::milliseconds timeout);

  // Sends `signum` to the child, unless it was already reaped (its PID may be reused).
  void signal(int signum);

  // Everything captured so far, for INFO() on failure: "argv ...\nstdout: ...\nstderr: ...".
  std::string transcript();

 private:
  // Reads whatever stdout/stderr have ready, waiting at most `timeout` for the first byte.
  void pump(std::chrono::milliseconds timeout);

  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;       // stdout not yet returned by read_line
  std::string out_seen_;  // all of stdout, for transcript()
  std::string err_;
};

}  // namespace test_support
