// net_table: which kinds of NET rule (deny-net, allow-net, internal-address) cover an address.
// Built once from the rule list, then read-only and shared by every session without a lock.
// Prefix rules become sorted address segments with a bucket index on top, so a lookup reads a
// few cache lines whether there are ten rules or a million. Exchange-style non-contiguous masks
// (255.0.255.0) cannot be segmented and are checked one by one; admins write few of them.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "large_allocator.hpp"
#include "net.hpp"

namespace relaymilter {

using RuleTags = uint8_t;  // one bit per rule kind, e.g. 1 = deny-net, 2 = allow-net

struct TaggedNet {
    Net net;
    RuleTags tags;
};

// One segment of a key space: from `start` up to the next segment's start, carrying `tags`.
// The tags sit beside the key so a lookup touches one cache line, not two arrays.
template <typename Key>
struct Segment;
template <>
struct Segment<uint32_t> {
    uint32_t start;
    RuleTags tags;
    [[nodiscard]] uint32_t key() const { return start; }
};
template <>
struct Segment<uint128> {  // two halves, not an aligned __int128: 24 bytes instead of 32
    uint64_t high;
    uint64_t low;
    RuleTags tags;
    [[nodiscard]] uint128 key() const { return (static_cast<uint128>(high) << 64) | low; }
};

// Sorted segments covering one key space (IPv4 or IPv6), the first starting at 0.
template <typename Key>
class SegmentIndex {
public:
    struct Interval {
        Key first;
        Key last;
        RuleTags tags;
    };
    using Intervals = std::vector<Interval, LargeAllocator<Interval>>;
    void build(Intervals intervals);
    [[nodiscard]] RuleTags lookup(Key key) const;
    [[nodiscard]] size_t bytes() const;
    // Whether every key carries `tag`.
    [[nodiscard]] bool all_tagged(RuleTags tag) const;

private:
    void append(Key start, RuleTags tags);

    std::vector<Segment<Key>, LargeAllocator<Segment<Key>>> segments_{Segment<Key>{}};  // at first everything, no tags
    // bucket b covers keys [base_ + (b << shift_), base_ + ((b + 1) << shift_)); bucket_begin_[b]
    // is how many segments start at or below the bucket's first key.
    Key base_ = 0;
    unsigned shift_ = 0;
    std::vector<uint32_t, LargeAllocator<uint32_t>> bucket_begin_;
};

class NetTable {
public:
    // Collects rules, then makes the table; nothing is copied twice on the way (a conf of a
    // million rules is loaded on every reload).
    class Builder {
    public:
        explicit Builder(size_t expected_rules);
        void add(const Net& net, RuleTags tags);
        [[nodiscard]] NetTable build() &&;

    private:
        SegmentIndex<uint32_t>::Intervals v4_;
        SegmentIndex<uint128>::Intervals v6_;
        std::vector<TaggedNet> irregular_;
    };

    NetTable() = default;
    explicit NetTable(std::span<const TaggedNet> rules);

    // The union of the tags of every rule that contains the address.
    [[nodiscard]] RuleTags lookup(const IpAddress& address) const;
    [[nodiscard]] size_t bytes() const;
    // Whether the rules carrying `tag` together cover every IPv4 or every IPv6 address.
    [[nodiscard]] bool covers_all_v4(RuleTags tag) const;
    [[nodiscard]] bool covers_all_v6(RuleTags tag) const;

private:
    SegmentIndex<uint32_t> v4_;
    SegmentIndex<uint128> v6_;
    std::vector<TaggedNet> irregular_;  // non-contiguous masks
};

}  // namespace relaymilter
