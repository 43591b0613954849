#include "io/slab.h"

#include "l2n/alloc.h"

namespace l2n::io {

void SlabPool::shutdown() {
  std::vector<Slab*> drop;
  bool last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    drop.swap(free_);
    last = live_.fetch_sub(drop.size(), std::memory_order_acq_rel) == drop.size();
  }
  for (Slab* s : drop) {
    mem::free(s->data, kSlabSize);
    delete s;
  }
  if (last) delete this;
}

Slab* SlabPool::acquire() {
  Slab* s = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!free_.empty()) {
      s = free_.back();
      free_.pop_back();
    }
  }
  if (s == nullptr) {
    auto* data = static_cast<uint8_t*>(mem::alloc(kSlabSize));
    if (data == nullptr) return nullptr;
    s = new (std::nothrow) Slab();
    if (s == nullptr) {
      mem::free(data, kSlabSize);
      return nullptr;
    }
    s->data = data;
    s->pool = this;
    live_.fetch_add(1, std::memory_order_relaxed);
  }
  s->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  if (s->id == 0) s->id = next_id_.fetch_add(1, std::memory_order_relaxed);  // 0 means "none"
  s->exposed = false;
  s->refs.store(1, std::memory_order_relaxed);
  return s;
}

void SlabPool::recycle(Slab* s) {
  bool last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shutdown_ && free_.size() < kSlabPoolMax) {
      free_.push_back(s);
      return;
    }
    last = live_.fetch_sub(1, std::memory_order_acq_rel) == 1 && shutdown_;
  }
  mem::free(s->data, kSlabSize);
  delete s;
  if (last) delete this;
}

}  // namespace l2n::io
