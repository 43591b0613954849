// Allocation entry points for large native buffers: receive slabs, socket output buffers, counter
// tables. The allocator is fixed at build time by CMakeLists.txt (L2N_ALLOCATOR=system|mimalloc|
// jemalloc defines L2N_ALLOCATOR_MIMALLOC / L2N_ALLOCATOR_JEMALLOC; none means system malloc), so a
// call is a direct call into the chosen library with no indirection. Small objects (engines' maps,
// std::vector) keep using operator new: they are not on the per-byte path.
//
// Sized free: jemalloc's sdallocx and mimalloc's mi_free_size skip a size lookup; callers always
// know the size of a slab or buffer, so every free here is sized.
#pragma once
#include <cstddef>
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
  return mi_malloc_aligned(size, kBufferAlignment);
#elif defined(L2N_ALLOCATOR_JEMALLOC)
  return mallocx(size == 0 ? 1 : size, MALLOCX_ALIGN(kBufferAlignment));
#else
  // aligned_alloc needs size to be a multiple of the alignment.
  size_t rounded = (size + kBufferAlignment - 1) & ~(kBufferAlignment - 1);
  return std::aligned_alloc(kBufferAlignment, rounded == 0 ? kBufferAlignment : rounded);
#endif
}

inline void free(void* p, size_t size) noexcept {
  if (p == nullptr) return;
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
