// A first-in first-out queue on one std::vector, for the per-connection and per-stream queues.
// Why not std::deque: libstdc++'s deque allocates a 512-byte node and its map as soon as it is
// constructed, so every idle connection paid ~1.1 KiB and every stream ~0.6 KiB for queues that
// are almost always empty (bench/swarm/idle-memory.ts, 10,000 idle connections). An empty Fifo
// that was never used owns no memory; one that drained keeps its (small) capacity.
// Elements are moved when the vector grows: store nothing that points into an element itself.
#pragma once
#include <cstddef>
#include <utility>
#include <vector>

namespace l2n::io {

template <class T>
class Fifo {
 public:
  using iterator = typename std::vector<T>::iterator;

  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  iterator begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  iterator end() { return items_.end(); }

  void push_back(T&& v) { items_.push_back(std::move(v)); }
  void push_back(const T& v) { items_.push_back(v); }
  template <class... A> void emplace_back(A&&... a) { items_.emplace_back(std::forward<A>(a)...); }
  void push_front(T&& v) {
    if (head_ > 0) {
      items_[--head_] = std::move(v);
    } else {
      items_.insert(items_.begin(), std::move(v));
    }
  }
  void pop_front() {
    items_[head_] = T();  // release what the element owns now, not at the next compaction
    if (++head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ >= kCompactAfter && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  iterator erase(iterator it) { return items_.erase(it); }
  void clear() {
    items_.clear();
    head_ = 0;
  }

 private:
  // Consumed slots are reclaimed once there are this many and they are half the vector: the
  // move costs O(live elements) at most once per that many pops.
  static constexpr size_t kCompactAfter = 32;
  std::vector<T> items_;
  size_t head_ = 0;
};

}  // namespace l2n::io
