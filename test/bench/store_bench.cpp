// store_bench: what one counted recipient costs in the limits store: the memory store beside the
// Redis store over loopback TCP and over a Unix socket (a private redis-server that
// store_bench.sh starts), at 1, 2, 4 and 8 threads; median and p99 per call, calls per second,
// and a bare PING round trip for scale. Interleaved rounds, so a noisy neighbour hits each alike.
// Prints figures; asserts nothing.
//   test/bench/store_bench.sh BUILD_DIR [--quick]     (starts Redis, runs this, stops Redis)
#include <hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "redis_store.hpp"

using namespace relaymilter;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kLogins = 10000;

LoginLimits submission_limits() {  // all three, as a submission server would set them
    LoginLimits limits;
    limits.recipients = Rate{500, 3600};
    limits.messages = Rate{100, 3600};
    limits.clients = Rate{10, 86400};
    return limits;
}

Microseconds wall_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Result {
    std::vector<double> ns;  // every call of every round
    std::vector<double> calls_per_second;  // per round
    long refused = 0, unavailable = 0;
};

// `threads` threads, `calls` relay() calls each over `kLogins` logins (a new message every 4th,
// one of 4 client addresses); every call timed.
void run(LimitStore& store, int threads, int calls, const std::string& tag, Result& result) {
    const LoginLimits limits = submission_limits();
    const ClientKey clients[] = {ClientKey::of(IpAddress::parse("192.0.2.1")), ClientKey::of(IpAddress::parse("198.51.100.7")),
                                 ClientKey::of(IpAddress::parse("2001:db8:1:2::1")), ClientKey::of(IpAddress::parse("203.0.113.5"))};
    std::vector<std::vector<double>> samples(static_cast<size_t>(threads));
    std::vector<long> refused(static_cast<size_t>(threads)), unavailable(static_cast<size_t>(threads));
    std::vector<std::string> logins;
    for (int i = 0; i < kLogins; ++i) logins.push_back(tag + "user" + std::to_string(i) + "@example.com");
    const auto start = Clock::now();
    std::vector<std::thread> running;
    for (int t = 0; t < threads; ++t) {
        running.emplace_back([&, t] {
            auto& mine = samples[static_cast<size_t>(t)];
            mine.reserve(static_cast<size_t>(calls));
            for (int i = 0; i < calls; ++i) {
                const size_t n = static_cast<size_t>(i) * static_cast<size_t>(threads) + static_cast<size_t>(t);
                const RelayAttempt attempt{logins[n % kLogins], limits, clients[(n / kLogins) % 4], n % 4 == 0, wall_us(), 3600};
                const auto before = Clock::now();
                const RelayCount count = store.relay(attempt);
                mine.push_back(std::chrono::duration<double, std::nano>(Clock::now() - before).count());
                refused[static_cast<size_t>(t)] += count.outcome != RelayCount::Outcome::allowed && count.outcome != RelayCount::Outcome::unavailable;
                unavailable[static_cast<size_t>(t)] += count.outcome == RelayCount::Outcome::unavailable;
            }
        });
    }
    for (auto& t : running) t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    result.calls_per_second.push_back(double(threads) * calls / seconds);
    for (int t = 0; t < threads; ++t) {
        result.ns.insert(result.ns.end(), samples[static_cast<size_t>(t)].begin(), samples[static_cast<size_t>(t)].end());
        result.refused += refused[static_cast<size_t>(t)];
        result.unavailable += unavailable[static_cast<size_t>(t)];
    }
}

double quantile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    const size_t at = std::min(v.size() - 1, static_cast<size_t>(q * double(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(at), v.end());
    return v[at];
}

// A bare round trip (PING) from one thread: the floor under any Redis call here.
std::vector<double> ping_ns(int port, int count) {
    std::vector<double> out;
    redisContext* c = redisConnect("127.0.0.1", port);
    if (!c || c->err) return out;
    for (int i = 0; i < count; ++i) {
        const auto before = Clock::now();
        auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
        out.push_back(std::chrono::duration<double, std::nano>(Clock::now() - before).count());
        if (reply) freeReplyObject(reply);
    }
    redisFree(c);
    return out;
}

void flushall(int port) {
    redisContext* c = redisConnect("127.0.0.1", port);
    if (c && !c->err) freeReplyObject(redisCommand(c, "FLUSHALL"));
    if (c) redisFree(c);
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    std::string socket;
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--socket") == 0 && i + 1 < argc) socket = argv[++i];
        else if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    }
    if (port == 0) {
        std::fprintf(stderr, "usage: store_bench --port PORT [--socket PATH] [--quick] (see store_bench.sh)\n");
        return 2;
    }
    const int rounds = quick ? 2 : 5;
    const int calls = quick ? 2000 : 10000;  // per thread per round
    const int thread_counts[] = {1, 2, 4, 8};

    StoreAddress tcp;
    tcp.kind = StoreAddress::Kind::redis_tcp;
    tcp.host = "127.0.0.1";
    tcp.port = static_cast<uint16_t>(port);
    StoreAddress unix_socket;
    unix_socket.kind = StoreAddress::Kind::redis_unix;
    unix_socket.path = socket;
    const StoreCheck check = RedisStore::check(tcp, kSecond);
    if (check.result != StoreCheck::Result::usable) {
        std::fprintf(stderr, "store_bench: %s\n", check.why.c_str());
        return 1;
    }
    RedisStoreOptions options;
    options.failure = StoreFailure::tempfail;  // a fallback would hide in the figures: count it instead
    options.timeout = kSecond;

    struct Subject {
        const char* name;
        std::function<std::unique_ptr<LimitStore>()> make;
        Result by_threads[4];
    };
    std::vector<Subject> subjects;
    subjects.push_back({"memory", [] { return std::make_unique<MemoryStore>(); }, {}});
    subjects.push_back({"redis tcp", [&] { return std::make_unique<RedisStore>(tcp, options); }, {}});
    if (!socket.empty()) subjects.push_back({"redis unix", [&] { return std::make_unique<RedisStore>(unix_socket, options); }, {}});

    std::vector<double> ping;
    for (int round = 0; round < rounds; ++round) {
        flushall(port);
        for (Subject& s : subjects) {
            for (size_t t = 0; t < 4; ++t) {
                auto store = s.make();  // fresh counters; its connections warm up in the first calls
                run(*store, thread_counts[t], calls, "r" + std::to_string(round) + "t" + std::to_string(t), s.by_threads[t]);
            }
        }
        auto p = ping_ns(port, calls);
        ping.insert(ping.end(), p.begin(), p.end());
    }

    std::printf("store_bench: one counted recipient (relay()) with recipient, message and client limits on,\n"
                "%d logins, %d calls per thread per round, %d interleaved rounds; latency per call over all\n"
                "rounds, calls/s the median over rounds. Redis: a private redis-server 7 on loopback.\n\n",
                kLogins, calls, rounds);
    std::printf("%-11s %7s %12s %12s %14s %12s %12s\n", "store", "threads", "median us", "p99 us", "calls/s", "refused", "unavailable");
    for (const Subject& s : subjects) {
        for (size_t t = 0; t < 4; ++t) {
            const Result& r = s.by_threads[t];
            std::printf("%-11s %7d %12.2f %12.2f %14.0f %12ld %12ld\n", s.name, thread_counts[t], quantile(r.ns, 0.5) / 1000,
                        quantile(r.ns, 0.99) / 1000, quantile(r.calls_per_second, 0.5), r.refused, r.unavailable);
        }
    }
    std::printf("\nadded latency per counted recipient, Redis minus memory (median / p99, us):\n");
    for (size_t i = 1; i < subjects.size(); ++i) {
        for (size_t t = 0; t < 4; ++t) {
            const Result& r = subjects[i].by_threads[t];
            const Result& m = subjects[0].by_threads[t];
            std::printf("  %-11s %d thread%s: %8.2f / %8.2f\n", subjects[i].name, thread_counts[t], t ? "s" : " ",
                        (quantile(r.ns, 0.5) - quantile(m.ns, 0.5)) / 1000, (quantile(r.ns, 0.99) - quantile(m.ns, 0.99)) / 1000);
        }
    }
    std::printf("\nbare PING round trip over TCP, one thread: median %.2f us, p99 %.2f us\n", quantile(ping, 0.5) / 1000,
                quantile(ping, 0.99) / 1000);
    return 0;
}
