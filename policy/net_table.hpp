// net_table: which kinds of NET rule (deny-net, allow-net, internal-address) cover an address, and
// the first rule (in the order given) that does, so a decision can say which one matched.
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
inline constexpr uint32_t kNoRule = UINT32_MAX;

struct TaggedNet {
    Net net;
    RuleTags tags;
};

// What covers an address: the union of the rules' tags, and the position of the first covering
// rule in the order the rules were added (kNoRule when none covers it).
struct NetMatch {
    RuleTags tags = 0;
    uint32_t first = kNoRule;
};

// One segment of a key space: from `start` up to the next segment's start, carrying what covers
// it. The match sits beside the key so a lookup touches one cache line, not two arrays.
template <typename Key>
struct Segment;
template <>
struct Segment<uint32_t> {
    uint32_t start;
    uint32_t first;
    RuleTags tags;
    [[nodiscard]] uint32_t key() const { return start; }
};
template <>
struct Segment<uint128> {  // two halves, not an aligned __int128: 24 bytes instead of 32
    uint64_t high;
    uint64_t low;
    uint32_t first;
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
        uint32_t rule;  // its position among all the rules
    };
    using Intervals = std::vector<Interval, LargeAllocator<Interval>>;
    void build(Intervals intervals);
    [[nodiscard]] NetMatch lookup(Key key) const;
    [[nodiscard]] size_t bytes() const;
    // Whether every key carries `tag`.
    [[nodiscard]] bool all_tagged(RuleTags tag) const;

private:
    void append(Key start, NetMatch match);

    std::vector<Segment<Key>, LargeAllocator<Segment<Key>>> segments_{first_segment()};  // at first: nothing covers
    static Segment<Key> first_segment() {
        Segment<Key> s{};
        s.first = kNoRule;
        return s;
    }
    // bucket b covers keys [base_ + (b << shift_), base_ + ((b + 1) << shift_)); bucket_begin_[b]
    // is how many segments start at or below the bucket's first key.
    Key base_ = 0;
    unsigned shift_ = 0;
    std::vector<uint32_t, LargeAllocator<uint32_t>> bucket_begin_;
};

class NetTable {
    struct IrregularNet {
        Net net;
        RuleTags tags;
        uint32_t rule;
    };

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
        std::vector<IrregularNet> irregular_;
        uint32_t added_ = 0;
    };

    NetTable() = default;
    explicit NetTable(std::span<const TaggedNet> rules);

    // The union of the tags of every rule that contains the address.
    [[nodiscard]] RuleTags lookup(const IpAddress& address) const { return match(address).tags; }
    // That, and which rule came first among them.
    [[nodiscard]] NetMatch match(const IpAddress& address) const;
    [[nodiscard]] size_t bytes() const;
    // Whether the rules carrying `tag` together cover every IPv4 or every IPv6 address.
    [[nodiscard]] bool covers_all_v4(RuleTags tag) const;
    [[nodiscard]] bool covers_all_v6(RuleTags tag) const;

private:
    SegmentIndex<uint32_t> v4_;
    SegmentIndex<uint128> v6_;
    std::vector<IrregularNet> irregular_;  // non-contiguous masks
};

}  // namespace relaymilter
