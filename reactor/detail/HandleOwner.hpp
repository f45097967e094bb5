// How every C++ object that owns a libuv handle is wired, so that Loop teardown can close any
// handle it finds and so that handle memory is freed only in its close callback.
#pragma once

struct uv_handle_s;
struct uv_timer_s;
struct uv_signal_s;
struct uv_poll_s;
struct uv_tcp_s;
struct uv_stream_s;

namespace reactor::detail {

// handle->data of every handle we create points to its HandleOwner (or is null once the owner
// let go of it). Loop teardown calls on_loop_closing() on each owner still holding a handle.
class HandleOwner {
 public:
  virtual void on_loop_closing() noexcept = 0;

 protected:
  virtual ~HandleOwner() = default;
};

// A heap-allocated libuv handle owned by an object that may die before the handle's close
// callback runs: close() detaches the owner and the close callback frees the memory.
template <typename UvT>
class OwnedHandle {
 public:
  OwnedHandle() = default;
  OwnedHandle(const OwnedHandle&) = delete;
  OwnedHandle& operator=(const OwnedHandle&) = delete;
  ~OwnedHandle() { close(); }

  // Allocates the handle and points its data at `owner`; the caller runs uv_X_init on get()
  // and then calls initialized(), or discard() if init failed.
  UvT* allocate(HandleOwner* owner);
  void initialized() noexcept { initialized_ = true; }
  void discard() noexcept;

  UvT* get() const noexcept { return handle_; }
  explicit operator bool() const noexcept { return handle_ != nullptr; }
  void close() noexcept;

 private:
  UvT* handle_ = nullptr;
  bool initialized_ = false;
};

}  // namespace reactor::detail
