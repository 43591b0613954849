// Allocation entry points for large native buffers: receive slabs, socket output buffers, counter
// tables. The allocator is fixed at build time by CMakeLists.txt (L2N_ALLOCATOR=system|mimalloc|
// jemalloc defines L2N_ALLOCATOR_MIMALLOC / L2N_ALLOCATOR_JEMALLOC; none means system malloc), so a
// call is a direct call into the chosen library with no indirection. Small objects (engines' maps,
// std::vector) keep using operator new: they are not on the per-byte path.
//
// Sized free: jemalloc's sdallocx and mimalloc's mi_free_size skip a size lookup; callers always
// know the size of a slab or buffer, so every free here is sized.
//
// live_bytes(): bytes currently held through this wrapper (all hosts of the process), for memory
// benches (bench/swarm/idle-memory.ts). One relaxed atomic add per alloc/free: these calls are per
// slab or per output-buffer growth, never per byte or per frame, so the add is noise next to the
// allocator call itself.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(L2N_ALLOCATOR_MIMALLOC)
#include <mimalloc.h>
#elif defined(L2N_ALLOCATOR_JEMALLOC)
// Debian builds jemalloc without a prefix: je_mallocx is spelled mallocx.
#include <jemalloc/jemalloc.h>
#endif

namespace l2n::mem {

// Alignment of slabs and output buffers: a cache line, so the start of every buffer (where the
// first Noise length prefix or Yamux header lands) never shares a line with another object.
inline constexpr size_t kBufferAlignment = 64;

namespace detail {
inline std::atomic<int64_t> live_bytes{0};
}  // namespace detail

inline int64_t live_bytes() noexcept { return detail::live_bytes.load(std::memory_order_relaxed); }

inline const char* allocator_name() {
#if defined(L2N_ALLOCATOR_MIMALLOC)
  return "mimalloc";
#elif defined(L2N_ALLOCATOR_JEMALLOC)
  return "jemalloc";
#else
  return "system";
#endif
}

// Returns nullptr on failure (callers close the connection with a limit error; never throws).
inline void* alloc(size_t size) noexcept {
#if defined(L2N_ALLOCATOR_MIMALLOC)
  void* p = mi_malloc_aligned(size, kBufferAlignment);
#elif defined(L2N_ALLOCATOR_JEMALLOC)
  void* p = mallocx(size == 0 ? 1 : size, MALLOCX_ALIGN(kBufferAlignment));
#else
  // aligned_alloc needs size to be a multiple of the alignment.
  size_t rounded = (size + kBufferAlignment - 1) & ~(kBufferAlignment - 1);
  void* p = std::aligned_alloc(kBufferAlignment, rounded == 0 ? kBufferAlignment : rounded);
#endif
  if (p != nullptr) detail::live_bytes.fetch_add(static_cast<int64_t>(size), std::memory_order_relaxed);
  return p;
}

inline void free(void* p, size_t size) noexcept {
  if (p == nullptr) return;
  detail::live_bytes.fetch_sub(static_cast<int64_t>(size), std::memory_order_relaxed);
#if defined(L2N_ALLOCATOR_MIMALLOC)
  mi_free_size(p, size);
#elif defined(L2N_ALLOCATOR_JEMALLOC)
  sdallocx(p, size == 0 ? 1 : size, MALLOCX_ALIGN(kBufferAlignment));
#else
  (void)size;
  std::free(p);
#endif
}

// Grows a buffer, keeping the first `used` bytes. Returns nullptr (old buffer untouched) on failure.
inline void* grow(void* p, size_t old_size, size_t used, size_t new_size) noexcept {
  void* q = alloc(new_size);
  if (q == nullptr) return nullptr;
  if (p != nullptr) {
    if (used > 0) __builtin_memcpy(q, p, used);
    free(p, old_size);
  }
  return q;
}

}  // namespace l2n::mem
