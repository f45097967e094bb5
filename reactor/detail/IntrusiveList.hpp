// A doubly linked list threaded through the elements themselves: O(1) unlink from anywhere,
// no allocation. Used for the loop's connection registry and the timer wheel's slots.
#pragma once

#include <cstddef>

namespace reactor::detail {

struct ListNode {
  ListNode* prev = nullptr;
  ListNode* next = nullptr;
  bool linked() const noexcept { return next != nullptr; }
  void unlink() noexcept {
    if (!linked()) return;
    prev->next = next;
    next->prev = prev;
    prev = next = nullptr;
  }
};

// A circular list with a sentinel. Elements embed a ListNode; the list never owns them.
class List {
 public:
  List() noexcept { head_.prev = head_.next = &head_; }
  List(const List&) = delete;
  List& operator=(const List&) = delete;
  ~List() { clear(); }

  bool empty() const noexcept { return head_.next == &head_; }
  void push_back(ListNode& n) noexcept {
    n.unlink();
    n.prev = head_.prev;
    n.next = &head_;
    head_.prev->next = &n;
    head_.prev = &n;
  }
  ListNode* front() noexcept { return empty() ? nullptr : head_.next; }
  // Moves every element of `other` to the end of this list.
  void splice(List& other) noexcept {
    while (ListNode* n = other.front()) push_back(*n);
  }
  void clear() noexcept {
    while (ListNode* n = front()) n->unlink();
  }
  // Calls fn(node) for each element in order; fn must not unlink elements.
  template <typename Fn>
  void for_each_node(Fn&& fn) {
    for (ListNode* n = head_.next; n != &head_; n = n->next) fn(*n);
  }
  std::size_t size() const noexcept {
    std::size_t count = 0;
    for (const ListNode* n = head_.next; n != &head_; n = n->next) ++count;
    return count;
  }

 private:
  ListNode head_;
};

}  // namespace reactor::detail
