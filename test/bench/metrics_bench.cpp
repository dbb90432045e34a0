// metrics_bench: what recording a decision in the metrics costs on the hot path (one per RCPT),
// side by side with the same decisions unrecorded: the policy decision alone ("off"), the decision
// timed with two steady_clock reads and recorded (counter + histogram, "on"), and the parts alone
// (the two clock reads; Metrics::decision with a fixed time). 1, 2 and 4 threads share one
// policy and one started Metrics, as sessions do in the daemon. Variants and thread counts are
// interleaved over rounds so a noisy neighbour hits them alike; figures are medians.
// Prints figures; asserts nothing.   build/test/bench/metrics_bench [--quick]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "metrics.hpp"
#include "policy.hpp"

using namespace relaymilter;
using Clock = std::chrono::steady_clock;

namespace {

struct Query {
    IpAddress client;
    const char* rcpt;
};

// A small site's policy: its domain, its networks, a deny list of 1000 nets.
std::shared_ptr<const Policy> make_policy(std::mt19937_64& rng) {
    std::string text = "local-domain = example.com\nallow-net = 10.0.0.0/8\ninternal-address = 10.255.0.1\n";
    for (int i = 0; i < 1000; ++i) {
        text += "deny-net = " + IpAddress::from_v4(static_cast<uint32_t>(rng()) & 0xffffff00u).to_string() + "/24\n";
    }
    ConfResult conf = parse_conf(text, "bench.conf");
    std::vector<ConfError> errors;
    if (!conf.conf) {
        std::fprintf(stderr, "bench conf: %s\n", conf.errors.at(0).to_string().c_str());
        std::exit(1);
    }
    return Policy::build(*conf.conf, errors);
}

// Local and relayed recipients from inside and outside clients: accepts and refusals by several rules.
std::vector<Query> make_queries(size_t count, std::mt19937_64& rng) {
    std::vector<Query> queries;
    queries.reserve(count);
    for (size_t i = 0; i < count; ++i) {
        const bool inside = rng() % 4 == 0;
        const uint32_t address = inside ? 0x0a000000u | static_cast<uint32_t>(rng() & 0xffffff) : static_cast<uint32_t>(rng());
        queries.push_back({IpAddress::from_v4(address), rng() % 2 ? "<user@example.com>" : "<user@example.net>"});
    }
    return queries;
}

enum class Variant { off, on, clock_only, record_only };
constexpr Variant kVariants[] = {Variant::off, Variant::on, Variant::clock_only, Variant::record_only};
const char* name(Variant v) {
    switch (v) {
    case Variant::off: return "off: decide";
    case Variant::on: return "on: decide, timed, recorded";
    case Variant::clock_only: return "2 clock reads alone";
    case Variant::record_only: return "Metrics::decision alone";
    }
    return "";
}

struct Bench {
    const Policy& policy;
    Metrics& metrics;
    std::vector<Metrics::RuleCounters> rules;  // indexed by Rule
    std::atomic<size_t> sink{0};

    // One thread's share: `queries` decided (or timed, or recorded) as `variant` says.
    void run(Variant variant, const std::vector<Query>& queries) {
        size_t kept = 0;
        for (const Query& q : queries) {
            const Client client{q.client, std::nullopt, ""};
            switch (variant) {
            case Variant::off: kept += policy.decide(client, q.rcpt).verdict == Verdict::accept; break;
            case Variant::on: {
                const auto start = Clock::now();
                const Decision d = policy.decide(client, q.rcpt);
                const auto took = Clock::now() - start;
                metrics.decision(rules.at(static_cast<size_t>(d.rule)), policy.action(d), took);
                kept += d.verdict == Verdict::accept;
                break;
            }
            case Variant::clock_only: kept += static_cast<size_t>((Clock::now() - Clock::now()).count() & 1); break;
            case Variant::record_only:
                metrics.decision(rules[kept++ % rules.size()], Action::refuse, std::chrono::nanoseconds(900));
                break;
            }
        }
        sink += kept;
    }

    struct Figures {
        double cpu_ns = 0;   // CPU time of all threads / all decisions: immune to waiting for a core
        double wall_ns = 0;  // wall time / decisions per thread: includes waiting (locks, other processes)
    };

    // `threads` threads each running its own slice at once.
    Figures measure(Variant variant, const std::vector<std::vector<Query>>& slices, unsigned threads) {
        std::vector<std::thread> pool;
        std::vector<double> cpu(threads);
        std::atomic<unsigned> ready{0};
        std::atomic<bool> go{false};
        for (unsigned t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                ready++;
                while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
                const double before = thread_cpu_ns();
                run(variant, slices[t]);
                cpu[t] = thread_cpu_ns() - before;
            });
        }
        while (ready.load() < threads) std::this_thread::yield();
        const auto start = Clock::now();
        go.store(true, std::memory_order_release);
        for (auto& thread : pool) thread.join();
        const double wall = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
        double cpu_total = 0;
        for (double c : cpu) cpu_total += c;
        const auto per_thread = static_cast<double>(slices[0].size());
        return {cpu_total / (per_thread * threads), wall / per_thread};
    }

    static double thread_cpu_ns() {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
    }
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    const int rounds = quick ? 3 : 15;
    const size_t per_thread = quick ? 50'000 : 200'000;
    const unsigned thread_counts[] = {1, 2, 4};

    std::mt19937_64 rng(18);
    const auto policy = make_policy(rng);
    std::vector<std::vector<Query>> slices;
    for (unsigned t = 0; t < 4; ++t) slices.push_back(make_queries(per_thread, rng));

    Metrics metrics(Metrics::Setup{"bench", {"rcpt"}, false});
    std::vector<Metrics::RuleCounters> rules;
    for (Rule rule : {Rule::local_domain, Rule::deny_net, Rule::authenticated, Rule::allow_net, Rule::internal_address,
                      Rule::default_rule}) {
        rules.push_back(metrics.rule(rule_name(rule)));
    }
    if (const auto why = metrics.start(MetricsAddress{*IpAddress::parse("127.0.0.1"), 0})) {
        std::fprintf(stderr, "%s\n", why->c_str());
        return 1;
    }
    Bench bench{*policy, metrics, rules};

    // [threads index][variant] -> one figure per round
    const size_t nt = std::size(thread_counts);
    std::vector<std::vector<std::vector<double>>> cpu(nt, std::vector<std::vector<double>>(4));
    std::vector<std::vector<std::vector<double>>> wall(nt, std::vector<std::vector<double>>(4));
    std::vector<std::vector<double>> ratio(nt);
    for (int round = 0; round < rounds; ++round) {
        for (size_t ti = 0; ti < nt; ++ti) {
            Bench::Figures off, on;
            for (size_t vi = 0; vi < 4; ++vi) {
                const Bench::Figures f = bench.measure(kVariants[vi], slices, thread_counts[ti]);
                cpu[ti][vi].push_back(f.cpu_ns);
                wall[ti][vi].push_back(f.wall_ns);
                if (kVariants[vi] == Variant::off) off = f;
                if (kVariants[vi] == Variant::on) on = f;
            }
            ratio[ti].push_back(on.cpu_ns / off.cpu_ns);
        }
    }

    std::printf("metrics_bench: a relay decision (1000 deny-nets, local and relayed recipients) with and without\n"
                "recording it; %zu decisions per thread per run, %d rounds interleaved, medians (%u cores here).\n",
                per_thread, rounds, std::thread::hardware_concurrency());
    for (int table = 0; table < 2; ++table) {
        const auto& figures = table == 0 ? cpu : wall;
        std::printf(table == 0 ? "\nCPU ns per decision (all threads' CPU time / all decisions)\n"
                               : "\nwall ns per decision per thread (waiting for a core or a lock included)\n");
        std::printf("%-32s", "");
        for (unsigned t : thread_counts) std::printf(" %9u thr", t);
        std::printf("\n");
        for (size_t vi = 0; vi < 4; ++vi) {
            std::printf("%-32s", name(kVariants[vi]));
            for (size_t ti = 0; ti < nt; ++ti) std::printf(" %13.1f", median(figures[ti][vi]));
            std::printf("\n");
        }
        std::printf("%-32s", "added by recording (on - off)");
        for (size_t ti = 0; ti < nt; ++ti) std::printf(" %13.1f", median(figures[ti][1]) - median(figures[ti][0]));
        std::printf("\n");
    }
    std::printf("\n%-32s", "CPU on / off, median of rounds");
    for (size_t ti = 0; ti < nt; ++ti) std::printf(" %13.2f", median(ratio[ti]));
    std::printf("\n\n(sink %zu) The through-Postfix target (metrics on >= 0.98x off) is measured after wiring.\n",
                bench.sink.load());
    return 0;
}
