// Definitions of OwnedHandle, kept out of the public header because they need <uv.h>.
#pragma once

#include <uv.h>

#include <memory>
#include <utility>

#include "reactor/detail/HandleOwner.hpp"

namespace reactor::detail {

template <typename UvT>
UvT* OwnedHandle<UvT>::allocate(HandleOwner* owner) {
  close();
  handle_ = std::make_unique<UvT>().release();
  handle_->data = owner;
  initialized_ = false;
  return handle_;
}

template <typename UvT>
void OwnedHandle<UvT>::discard() noexcept {
  // Never initialised, so libuv does not know it: free it directly.
  std::unique_ptr<UvT> reclaim(std::exchange(handle_, nullptr));
}

template <typename UvT>
void OwnedHandle<UvT>::close() noexcept {
  if (handle_ == nullptr) return;
  if (!initialized_) return discard();
  UvT* handle = std::exchange(handle_, nullptr);
  handle->data = nullptr;  // the owner may be gone before the close callback runs
  uv_close(reinterpret_cast<uv_handle_t*>(handle),
           [](uv_handle_t* h) { std::unique_ptr<UvT> reclaim(reinterpret_cast<UvT*>(h)); });
}

// Recovers the owner of a handle inside a libuv callback; null once the owner let go.
template <typename Owner, typename UvT>
Owner* owner_of(UvT* handle) noexcept {
  return static_cast<Owner*>(static_cast<HandleOwner*>(handle->data));
}

}  // namespace reactor::detail
