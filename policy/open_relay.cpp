// open_relay: a rule covering everything is found by looking at it; several rules together can
// only cover a space when their sizes add up to it, and only then is a table built to be sure.
#include "open_relay.hpp"

#include <limits>

#include "net_table.hpp"

namespace relaymilter {

namespace {

constexpr uint128 kV4First = kV4MappedBase;
constexpr uint128 kV4Last = kV4MappedBase | 0xffffffffu;
constexpr uint128 kMax = std::numeric_limits<uint128>::max();

uint128 saturating_add(uint128 a, uint128 b) { return a > kMax - b ? kMax : a + b; }

// Whether `rules` together might cover every IPv4 or every IPv6 address: their sizes add up.
bool might_cover_a_space(const NetRules& rules) {
    uint128 v4 = 0, v6 = 0;
    for (const NetRule& rule : rules) {
        if (!rule.net.is_prefix()) continue;  // non-contiguous masks never cover a whole space
        const uint128 first = rule.net.first(), last = rule.net.last();
        if (first <= kV4Last && last >= kV4First) v4 += std::min(last, kV4Last) - std::max(first, kV4First) + 1;
        v6 = saturating_add(v6, last - first == kMax ? kMax : last - first + 1);
    }
    return v4 >= (uint128{1} << 32) || v6 == kMax;
}

}  // namespace

std::vector<ConfError> open_relay_problems(const Conf& conf) {
    std::vector<ConfError> problems;
    if (conf.policy.allow_open_relay) return problems;
    struct Kind {
        const char* key;
        const NetRules& rules;
    };
    for (const Kind& kind : {Kind{"allow-net", conf.allow_nets}, Kind{"internal-address", conf.internal_addresses}}) {
        const NetRule* alone = nullptr;
        for (const NetRule& rule : kind.rules) {
            if (rule.net.covers_all_v4() || rule.net.covers_all_v6()) {
                alone = &rule;
                break;
            }
        }
        if (alone) {
            problems.push_back({conf.path, alone->line,
                                std::string(kind.key) + " = " + alone->net.to_string() +
                                    ": covers every address and makes an open relay; set allow-open-relay = yes if "
                                    "that is really meant"});
            continue;
        }
        if (kind.rules.empty() || !might_cover_a_space(kind.rules)) continue;
        NetTable::Builder builder(kind.rules.size());
        for (const NetRule& rule : kind.rules) builder.add(rule.net, 1);
        const NetTable table = std::move(builder).build();
        const char* family = table.covers_all_v4(1) ? "IPv4" : table.covers_all_v6(1) ? "IPv6" : nullptr;
        if (family) {
            problems.push_back({conf.path, kind.rules.back().line,
                                std::string(kind.key) + " rules together cover every " + family +
                                    " address and make an open relay; set allow-open-relay = yes if that is really "
                                    "meant"});
        }
    }
    return problems;
}

}  // namespace relaymilter
