// large_allocator: mmap, trimmed to a 2 MiB boundary so whole huge pages fit, and madvise.
#include "large_allocator.hpp"

#include <sys/mman.h>

#include <cstdint>

namespace relaymilter {

namespace {
constexpr std::size_t kHugePage = 2 << 20;
std::size_t rounded(std::size_t bytes) { return (bytes + kHugePage - 1) & ~(kHugePage - 1); }
}  // namespace

void* map_large(std::size_t bytes) {
    const std::size_t size = rounded(bytes);
    void* raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    auto start = reinterpret_cast<std::uintptr_t>(raw);
    auto aligned = (start + kHugePage - 1) & ~(std::uintptr_t{kHugePage} - 1);
    if (aligned > start) munmap(raw, aligned - start);
    const std::uintptr_t end = start + size + kHugePage;
    if (end > aligned + size) munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
    madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);  // a hint: fine if THP is off
    return reinterpret_cast<void*>(aligned);
}

void unmap_large(void* block, std::size_t bytes) { munmap(block, rounded(bytes)); }

}  // namespace relaymilter
