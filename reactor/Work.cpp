#include "reactor/Work.hpp"

#include <memory>
#include <utility>

#include "reactor/CallbackFailure.hpp"
#include "reactor/Log.hpp"
#include "reactor/Loop.hpp"
#include "reactor/LoopImpl.hpp"

namespace reactor {
namespace {

// Owned by libuv from uv_queue_work until the after-work callback, which frees it.
struct Job {
  uv_work_t req{};
  std::function<void()> work;
  std::function<void(bool)> done;
};

void run(uv_work_t* req) noexcept {
  auto* job = static_cast<Job*>(req->data);
  try {
    job->work();
  } catch (...) {
    log_callback_failure("work on the pool");
  }
}

void after(uv_work_t* req, int status) noexcept {
  std::unique_ptr<Job> job(static_cast<Job*>(req->data));
  try {
    if (job->done) job->done(status == UV_ECANCELED);
  } catch (...) {
    log_callback_failure("a work's completion");
  }
}

}  // namespace

void queue_work(Loop& loop, std::function<void()> work, std::function<void(bool cancelled)> done) {
  auto job = std::make_unique<Job>();
  job->work = std::move(work);
  job->done = std::move(done);
  job->req.data = job.get();
  if (const int rc = uv_queue_work(loop.impl().uv(), &job->req, &run, &after); rc != 0) {
    log::error(std::string("uv_queue_work: ") + uv_strerror(rc));
    if (job->done) job->done(true);
    return;
  }
  (void)job.release();  // after() takes it back
}

}  // namespace reactor
