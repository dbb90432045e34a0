// policy_bench: what a relay decision costs as the rule set grows, next to a plain linear scan
// over the same rules, with memory per rule and the time to load a conf of that size.
// The sizes are measured in interleaved rounds (1k, 100k, 1M, 1k, ...) so that a noisy
// neighbour hits them alike; figures are medians over rounds. Prints figures; asserts nothing.
//   build/test/bench/policy_bench [--quick]
//   build/test/bench/policy_bench --work RULES   (one size only, for test/bench/decision_work.sh)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "policy.hpp"

using namespace relaymilter;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kRcpt = "<user@example.net>";  // a relay attempt: every decision looks the client up

// Mixed IPv4/IPv6 rules, 80% allow-net and 20% deny-net, prefixes of realistic lengths, as conf text.
std::string make_conf(size_t count, std::mt19937_64& rng) {
    std::string text = "local-domain = example.com\n";
    for (size_t i = 0; i < count; ++i) {
        text += rng() % 5 == 0 ? "deny-net = " : "allow-net = ";
        if (i % 2 == 0) {
            unsigned length = 16 + static_cast<unsigned>(rng() % 17);
            uint32_t mask = ~uint32_t{0} << (32 - length);
            text += IpAddress::from_v4(static_cast<uint32_t>(rng()) & mask).to_string() + "/" + std::to_string(length);
        } else {
            unsigned length = 32 + static_cast<unsigned>(rng() % 97);
            uint128 bits = (static_cast<uint128>(0x2000u | (rng() % 0x1000)) << 112) |
                           (static_cast<uint128>(rng() & 0xffffffffffffull) << 64) | rng();
            uint128 mask = ~static_cast<uint128>(0) << (128 - length);
            text += IpAddress::from_bits(bits & mask).to_string() + "/" + std::to_string(length);
        }
        text += "\n";
    }
    return text;
}

// Half the queries fall inside a rule, half are random addresses of the same family mix.
std::vector<IpAddress> make_queries(const std::vector<TaggedNet>& nets, size_t count, std::mt19937_64& rng) {
    std::vector<IpAddress> queries;
    queries.reserve(count);
    for (size_t i = 0; i < count; ++i) {
        if (i % 2 == 0) {
            const Net& n = nets[rng() % nets.size()].net;
            uint128 span = n.last() - n.first();
            uint128 offset = ((static_cast<uint128>(rng()) << 64) | rng()) % (span + 1);
            queries.push_back(IpAddress::from_bits(n.first() + offset));
        } else if (i % 4 == 1) {
            queries.push_back(IpAddress::from_v4(static_cast<uint32_t>(rng())));
        } else {
            queries.push_back(IpAddress::from_bits((static_cast<uint128>(0x2000u | (rng() % 0x1000)) << 112) |
                                                   (static_cast<uint128>(rng() & 0xffffffffffffull) << 64) | rng()));
        }
    }
    return queries;
}

// The measured loop, out of line so callgrind can collect exactly this function.
[[gnu::noinline]] size_t decision_loop(const Policy& policy, const std::vector<IpAddress>& queries) {
    size_t accepted = 0;
    for (const IpAddress& q : queries) accepted += policy.decide(Client{q, std::nullopt, ""}, kRcpt).verdict == Verdict::accept;
    return accepted;
}

// The reference: every rule tested for every query, deny winning, as the policy decides.
size_t linear_loop(const Policy& policy, const std::vector<TaggedNet>& nets, const std::vector<IpAddress>& queries,
                   size_t count) {
    size_t accepted = 0;
    for (size_t i = 0; i < count; ++i) {
        RuleTags tags = 0;
        for (const TaggedNet& t : nets) {
            if (t.net.contains(queries[i])) tags = static_cast<RuleTags>(tags | t.tags);
        }
        accepted += !policy.is_local(parse_recipient(kRcpt)) && !(tags & kDenyNet) && (tags & kAllowNet);
    }
    return accepted;
}

// ns per dependent load over a random cycle through `megabytes`: what a cache miss costs here.
double load_latency_ns(size_t megabytes) {
    const size_t n = megabytes * 1024 * 1024 / sizeof(uint32_t);
    std::vector<uint32_t> order(n), next(n);
    for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(megabytes));
    for (size_t i = 0; i < n; ++i) next[order[i]] = order[(i + 1) % n];
    uint32_t p = 0;
    const size_t steps = 2'000'000;
    auto start = Clock::now();
    for (size_t i = 0; i < steps; ++i) p = next[p];
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / double(steps);
    return ns + (p == n ? 1 : 0);  // keeps the chase from being optimised away
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

double ns_per(Clock::time_point start, size_t count) {
    return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / double(count);
}

struct Size {
    size_t rules;
    std::shared_ptr<const Policy> policy;
    std::vector<TaggedNet> nets;  // for the linear scan
    std::vector<IpAddress> queries;
    size_t linear_queries;
    double load_seconds;
    std::vector<double> decision_ns, linear_ns;
};

// Writes the conf an admin would write and loads it the way the daemon does.
Size load(size_t rules, size_t query_count) {
    std::mt19937_64 rng(rules);
    char path[] = "/tmp/policy_bench_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    std::ofstream(path) << make_conf(rules, rng);
    auto start = Clock::now();
    LoadedPolicy loaded = load_policy(path);
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    unlink(path);
    if (!loaded.policy) {
        std::fprintf(stderr, "load failed: %s\n", loaded.errors.at(0).to_string().c_str());
        std::exit(1);
    }
    Size size{rules, loaded.policy, {}, {}, 0, seconds, {}, {}};
    for (const NetRule& r : loaded.conf->deny_nets) size.nets.push_back({r.net, kDenyNet});
    for (const NetRule& r : loaded.conf->allow_nets) size.nets.push_back({r.net, kAllowNet});
    size.queries = make_queries(size.nets, query_count, rng);
    size.linear_queries = std::clamp<size_t>(200'000'000 / rules, 50, query_count);
    return size;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 2 && std::strcmp(argv[1], "--work") == 0) {
        Size size = load(std::stoul(argv[2]), 200000);
        std::printf("%zu rules: 200000 decisions, %zu accepted\n", size.rules, decision_loop(*size.policy, size.queries));
        return 0;
    }
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    const size_t query_count = quick ? 200000 : 1000000;
    const int rounds = quick ? 3 : 7;

    std::vector<Size> sizes;
    for (size_t rules : {size_t{1000}, size_t{100000}, size_t{1000000}}) sizes.push_back(load(rules, query_count));

    std::vector<double> ratio_1m_1k;
    for (int round = 0; round < rounds; ++round) {
        for (Size& s : sizes) {
            auto start = Clock::now();
            size_t accepted = decision_loop(*s.policy, s.queries);
            s.decision_ns.push_back(ns_per(start, s.queries.size()));
            start = Clock::now();
            size_t linear_accepted = linear_loop(*s.policy, s.nets, s.queries, s.linear_queries);
            s.linear_ns.push_back(ns_per(start, s.linear_queries));
            // The two must agree on the queries both saw.
            std::vector<IpAddress> shared(s.queries.begin(), s.queries.begin() + static_cast<long>(s.linear_queries));
            if (decision_loop(*s.policy, shared) != linear_accepted || accepted == 0) {
                std::fprintf(stderr, "MISMATCH at %zu rules\n", s.rules);
                return 1;
            }
        }
        ratio_1m_1k.push_back(sizes[2].decision_ns.back() / sizes[0].decision_ns.back());
    }

    std::printf("policy_bench: one relay decision (recipient parse, local-domain check, client looked up in\n"
                "allow/deny nets); mixed IPv4/IPv6 rules, half the queries inside a rule; %zu queries per size,\n"
                "sizes interleaved over %d rounds; medians.\n\n",
                query_count, rounds);
    std::printf("%10s %14s %14s %10s %12s %10s\n", "rules", "decision ns", "linear ns", "speedup", "bytes/rule", "load s");
    for (const Size& s : sizes) {
        double decision = median(s.decision_ns), linear = median(s.linear_ns);
        std::printf("%10zu %14.1f %14.1f %9.0fx %12.1f %10.3f\n", s.rules, decision, linear, linear / decision,
                    double(s.policy->bytes()) / double(s.rules), s.load_seconds);
    }
    const Size& big = sizes[2];
    std::printf("\n1M-rule / 1k-rule decision, median of per-round ratios: %.2f (target <= 2)\n", median(ratio_1m_1k));
    std::printf("linear / indexed at 1M: %.0fx (target >= 1000)\n", median(big.linear_ns) / median(big.decision_ns));
    std::printf("bytes per rule at 1M: %.1f (target <= 64)\n", double(big.policy->bytes()) / double(big.rules));
    std::printf("load of 1M rules: %.2f s (target < 2)\n", big.load_seconds);
    std::printf("\nmemory latency here, per dependent load: %.0f ns within 1 MB, %.0f ns within 32 MB\n"
                "(the 1M-rule tables hold %.0f MB: a decision there pays about one such miss; see decision_work.sh)\n",
                load_latency_ns(1), load_latency_ns(32), double(big.policy->bytes()) / 1e6);
    return 0;
}
