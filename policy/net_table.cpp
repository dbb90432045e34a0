// net_table: building the segment index (a sweep over interval ends) and looking addresses up.
#include "net_table.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <functional>
#include <limits>
#include <queue>

namespace relaymilter {

namespace {

template <typename Key>
constexpr unsigned kKeyBits = std::numeric_limits<Key>::digits;

template <typename Key>
unsigned bit_width_of(Key value) {
    if constexpr (std::is_same_v<Key, uint128>) {
        auto high = static_cast<uint64_t>(value >> 64);
        return high ? 64 + static_cast<unsigned>(std::bit_width(high))
                    : static_cast<unsigned>(std::bit_width(static_cast<uint64_t>(value)));
    } else {
        return static_cast<unsigned>(std::bit_width(value));
    }
}

constexpr unsigned kMaxBucketBits = 22;
constexpr size_t kSegmentsPerBucket = 2;

}  // namespace

template <typename Key>
void SegmentIndex<Key>::append(Key start, NetMatch match) {
    if constexpr (std::is_same_v<Key, uint128>) {
        segments_.push_back({static_cast<uint64_t>(start >> 64), static_cast<uint64_t>(start), match.first, match.tags});
    } else {
        segments_.push_back({start, match.first, match.tags});
    }
}

template <typename Key>
void SegmentIndex<Key>::build(Intervals intervals) {
    struct Event {
        Key at;
        uint32_t rule;
        RuleTags tags;
        bool opens;
    };
    std::vector<Event, LargeAllocator<Event>> events;
    events.reserve(intervals.size() * 2);
    uint32_t rules = 0;
    for (const Interval& in : intervals) {
        events.push_back({in.first, in.rule, in.tags, true});
        if (in.last != std::numeric_limits<Key>::max()) events.push_back({static_cast<Key>(in.last + 1), in.rule, in.tags, false});
        rules = std::max(rules, in.rule + 1);
    }
    intervals.clear();
    intervals.shrink_to_fit();
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.at < b.at; });

    // Sweep: a new segment wherever what covers the key changes. The tags are counted per bit;
    // the first covering rule is the top of a min-heap of open rules, closed ones dropped lazily.
    segments_.clear();
    segments_.reserve(events.size() + 1);
    append(Key{0}, NetMatch{});
    std::array<uint32_t, 8> open{};
    std::priority_queue<uint32_t, std::vector<uint32_t>, std::greater<>> first_open;
    std::vector<bool> closed(rules);
    for (size_t i = 0; i < events.size();) {
        const Key at = events[i].at;
        for (; i < events.size() && events[i].at == at; ++i) {
            const Event& e = events[i];
            for (unsigned bit = 0; bit < 8; ++bit) {
                if (e.tags & (1u << bit)) open[bit] += e.opens ? 1u : static_cast<uint32_t>(-1);
            }
            if (e.opens) {
                first_open.push(e.rule);
            } else {
                closed[e.rule] = true;
            }
        }
        while (!first_open.empty() && closed[first_open.top()]) first_open.pop();
        NetMatch now;
        for (unsigned bit = 0; bit < 8; ++bit) {
            if (open[bit]) now.tags = static_cast<RuleTags>(now.tags | (1u << bit));
        }
        now.first = first_open.empty() ? kNoRule : first_open.top();
        if (now.tags == segments_.back().tags && now.first == segments_.back().first) continue;
        if (at == Key{0}) {
            segments_.back().tags = now.tags;
            segments_.back().first = now.first;
        } else {
            append(at, now);
        }
    }
    events.clear();
    events.shrink_to_fit();

    // Buckets of a few segments each, over the span where segments start.
    bucket_begin_.clear();
    if (segments_.size() < 2) return;
    const Key low = segments_[1].key();
    const Key high = segments_.back().key();
    const unsigned span_bits = bit_width_of<Key>(low ^ high);
    const auto wanted_bits = static_cast<unsigned>(std::bit_width(segments_.size() / kSegmentsPerBucket));
    const unsigned bucket_bits = std::min({wanted_bits, kMaxBucketBits, span_bits});
    shift_ = span_bits - bucket_bits;
    base_ = span_bits >= kKeyBits<Key> ? Key{0} : static_cast<Key>(low & ~((Key{1} << span_bits) - 1));
    const size_t buckets = size_t{1} << bucket_bits;
    bucket_begin_.resize(buckets + 1);
    size_t count = 0;
    for (size_t b = 0; b < buckets; ++b) {
        const Key first_key = static_cast<Key>(base_ + (static_cast<Key>(b) << shift_));
        while (count < segments_.size() && segments_[count].key() <= first_key) ++count;
        bucket_begin_[b] = static_cast<uint32_t>(count);
    }
    bucket_begin_[buckets] = static_cast<uint32_t>(segments_.size());
}

template <typename Key>
NetMatch SegmentIndex<Key>::lookup(Key key) const {
    auto of = [](const Segment<Key>& s) { return NetMatch{s.tags, s.first}; };
    if (bucket_begin_.empty() || key < base_) return of(segments_.front());
    const Key bucket = static_cast<Key>((key - base_) >> shift_);
    if (bucket >= bucket_begin_.size() - 1) return of(segments_.back());
    const auto b = static_cast<size_t>(bucket);
    // The segment holding `key` is the last one starting at or below it; within this bucket
    // that is among segments [begin - 1, end).
    const Segment<Key>* first = segments_.data() + bucket_begin_[b];
    const Segment<Key>* last = segments_.data() + bucket_begin_[b + 1];
    const Segment<Key>* after =
        std::upper_bound(first, last, key, [](Key k, const Segment<Key>& s) { return k < s.key(); });
    return of(after[-1]);
}

template <typename Key>
size_t SegmentIndex<Key>::bytes() const {
    return segments_.capacity() * sizeof(Segment<Key>) + bucket_begin_.capacity() * sizeof(uint32_t);
}

template <typename Key>
bool SegmentIndex<Key>::all_tagged(RuleTags tag) const {
    return std::all_of(segments_.begin(), segments_.end(), [tag](const Segment<Key>& s) { return (s.tags & tag) != 0; });
}

template class SegmentIndex<uint32_t>;
template class SegmentIndex<uint128>;

NetTable::Builder::Builder(size_t expected_rules) {
    v4_.reserve(expected_rules);
    v6_.reserve(expected_rules);
}

void NetTable::Builder::add(const Net& net, RuleTags tags) {
    constexpr uint128 v4_first = kV4MappedBase;
    constexpr uint128 v4_last = kV4MappedBase | 0xffffffffu;
    const uint32_t rule = added_++;
    if (!net.is_prefix()) {
        irregular_.push_back({net, tags, rule});
        return;
    }
    const uint128 first = net.first();
    const uint128 last = net.last();
    if (first <= v4_last && last >= v4_first) {  // the IPv4 part, in IPv4's own index
        v4_.push_back(
            {static_cast<uint32_t>(std::max(first, v4_first)), static_cast<uint32_t>(std::min(last, v4_last)), tags, rule});
    }
    if (first < v4_first || last > v4_last) v6_.push_back({first, last, tags, rule});
}

NetTable NetTable::Builder::build() && {
    NetTable table;
    table.v4_.build(std::move(v4_));
    table.v6_.build(std::move(v6_));
    irregular_.shrink_to_fit();
    table.irregular_ = std::move(irregular_);
    return table;
}

NetTable::NetTable(std::span<const TaggedNet> rules) {
    Builder builder(rules.size());
    for (const TaggedNet& rule : rules) builder.add(rule.net, rule.tags);
    *this = std::move(builder).build();
}

NetMatch NetTable::match(const IpAddress& address) const {
    NetMatch m = address.is_v4() ? v4_.lookup(address.v4()) : v6_.lookup(address.bits());
    for (const IrregularNet& rule : irregular_) {
        if (!rule.net.contains(address)) continue;
        m.tags = static_cast<RuleTags>(m.tags | rule.tags);
        m.first = std::min(m.first, rule.rule);
    }
    return m;
}

size_t NetTable::bytes() const {
    return sizeof(*this) + v4_.bytes() + v6_.bytes() + irregular_.capacity() * sizeof(IrregularNet);
}

bool NetTable::covers_all_v4(RuleTags tag) const {
    // Irregular masks cover everything only when empty, and an empty mask is a prefix (/0):
    // the segment index alone decides.
    return v4_.all_tagged(tag);
}

bool NetTable::covers_all_v6(RuleTags tag) const { return v6_.all_tagged(tag); }

}  // namespace relaymilter
