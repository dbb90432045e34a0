// large_allocator: the allocator of the rule tables' big arrays (a million rules fill tens of
// MiB). Blocks of 1 MiB and more are mapped on their own, 2 MiB aligned and marked for
// transparent huge pages: loading a big conf spent its time in page faults (doc/performance.md
// has the measurement), and freeing such a block hands the memory straight back.
// Smaller blocks come from operator new.
#pragma once

#include <cstddef>
#include <new>

namespace relaymilter {

// Mapped memory of at least `bytes` (throws std::bad_alloc), and its release.
void* map_large(std::size_t bytes);
void unmap_large(void* block, std::size_t bytes);
inline constexpr std::size_t kLargeBlock = 1 << 20;

template <typename T>
struct LargeAllocator {
    using value_type = T;
    LargeAllocator() = default;
    template <typename U>
    LargeAllocator(const LargeAllocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        const std::size_t bytes = n * sizeof(T);
        if (bytes >= kLargeBlock) return static_cast<T*>(map_large(bytes));
        return static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T)}));
    }
    void deallocate(T* p, std::size_t n) noexcept {
        const std::size_t bytes = n * sizeof(T);
        if (bytes >= kLargeBlock) {
            unmap_large(p, bytes);
        } else {
            ::operator delete(p, std::align_val_t{alignof(T)});
        }
    }
    friend bool operator==(const LargeAllocator&, const LargeAllocator&) { return true; }
};

}  // namespace relaymilter
