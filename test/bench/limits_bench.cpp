// limits_bench: what the login limits cost. (1) One authenticated relay decision with all three
// login limits on (memory store) beside the same decision with no limit keys, at 1, 2 and 8
// threads, over 10,000 logins and over one hot login all threads share; interleaved rounds,
// medians, with the parts of the limited decision timed alone. (2) The memory store's RSS and
// malloc'd bytes per tracked login and per remembered client address, at 1,000,000 logins, and
// what expiry gives back. Time is a value passed in, as the milter does. Prints figures; asserts nothing.
//   build/test/bench/limits_bench            (about 25 s on a 2-core machine)
//   build/test/bench/limits_bench --quick    (a short run: fewer rounds, decisions and logins)
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "policy.hpp"

using namespace relaymilter;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kRcpt = "<user@example.net>";  // a relay attempt: authentication decides
constexpr Microseconds kT0 = 1'800'000'000 * kSecond;
constexpr size_t kLogins = 10000;
constexpr int kThreadCounts[] = {1, 2, 8};
// High enough that nothing is refused: a run makes at most ~1M decisions against a fresh store.
const char* kLimitKeys = "login-recipient-limit = 1000000/1h\nlogin-message-limit = 1000000/1h\nlogin-client-limit = 16/1d\n";

std::shared_ptr<const Policy> policy_from(const std::string& text) {
    ConfResult read = parse_conf(text, "limits_bench.conf");
    std::vector<ConfError> errors = read.errors;
    std::shared_ptr<const Policy> policy = read.conf ? Policy::build(*read.conf, errors) : nullptr;
    if (!policy) {
        std::fprintf(stderr, "limits_bench: conf: %s\n", errors.empty() ? "?" : errors[0].to_string().c_str());
        std::exit(1);
    }
    return policy;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// CPU time of the calling thread: unlike wall time, not inflated while other processes hold the cores.
double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct Workload {
    std::vector<std::string> logins;     // user0@example.com ... (20 characters at most)
    std::vector<IpAddress> login_client;  // each login relays from its own address
    std::vector<IpAddress> thread_client; // the hot login: each thread from its own address
};

// `threads` threads share `total` decisions against a fresh store, after one untimed decision per
// login used, made by the thread that will use it. Thread t decides for the logins i with i % threads == t (hot: all for logins[0]),
// a new message every 4th recipient, now = kT0 + its own count in microseconds.
// Adds the decisions that were not accepted to `refused`.
struct Timing {
    double wall = 0;  // seconds, first thread started to last one done
    double cpu = 0;   // seconds of CPU all its threads used (CLOCK_THREAD_CPUTIME_ID, user and system)
};
Timing run(const Policy& policy, const Workload& w, int threads, size_t total, bool hot, long& refused) {
    MemoryStore store;
    if (hot) {
        Counting counting{store, kT0, true};
        refused += policy.decide(Client{w.thread_client[0], std::nullopt, w.logins[0]}, kRcpt, &counting).verdict != Verdict::accept;
    }
    const size_t each = total / static_cast<size_t>(threads);
    std::vector<long> not_accepted(static_cast<size_t>(threads));
    std::vector<double> cpu(static_cast<size_t>(threads));
    std::latch made(threads);  // every thread has made its logins' entries
    std::latch go(1);          // the clock runs: start the timed loops
    std::vector<std::thread> running;
    for (size_t t = 0; t < static_cast<size_t>(threads); ++t) {
        running.emplace_back([&, t] {
            const size_t step = static_cast<size_t>(threads);
            long mine = 0;
            // Each thread makes its own logins' entries, as the thread of a login's first relay
            // does in the milter: untimed, so that the timed loop finds them all.
            for (size_t n = t; !hot && n < kLogins; n += step) {
                Counting counting{store, kT0, true};
                mine += policy.decide(Client{w.login_client[n], std::nullopt, w.logins[n]}, kRcpt, &counting).verdict != Verdict::accept;
            }
            made.count_down();
            go.wait();
            const double cpu_start = thread_cpu_seconds();
            for (size_t i = 0; i < each; ++i) {
                const size_t n = hot ? 0 : (t + i * step) % kLogins;
                const IpAddress& client = hot ? w.thread_client[t] : w.login_client[n];
                Counting counting{store, kT0 + static_cast<Microseconds>(i), i % 4 == 0};
                mine += policy.decide(Client{client, std::nullopt, w.logins[n]}, kRcpt, &counting).verdict != Verdict::accept;
            }
            cpu[t] = thread_cpu_seconds() - cpu_start;
            not_accepted[t] = mine;
        });
    }
    made.wait();
    const auto start = Clock::now();
    go.count_down();
    for (auto& t : running) t.join();
    Timing timing{seconds_since(start), 0};
    for (double c : cpu) timing.cpu += c;
    for (long r : not_accepted) refused += r;
    return timing;
}

// The parts of a limited decision, one thread, over the 10,000 logins: CPU ns per call of the
// limits lookup, of login_id (the store's key), and of MemoryStore::relay called directly.
std::array<double, 3> parts(const Policy& limited, const Workload& w, size_t count) {
    std::array<double, 3> ns{};
    size_t sink = 0;
    double start = thread_cpu_seconds();
    for (size_t i = 0; i < count; ++i) sink += limited.limits_of(w.logins[i % kLogins]).any();
    ns[0] = (thread_cpu_seconds() - start) * 1e9 / double(count);
    start = thread_cpu_seconds();
    for (size_t i = 0; i < count; ++i) sink += login_id(w.logins[i % kLogins]);
    ns[1] = (thread_cpu_seconds() - start) * 1e9 / double(count);
    MemoryStore store;
    const LoginLimits limits = limited.limits_of("user0@example.com");
    for (size_t i = 0; i < kLogins; ++i) {
        sink += static_cast<size_t>(store.relay({w.logins[i], limits, ClientKey::of(w.login_client[i]), true, kT0, 3600}).outcome);
    }
    start = thread_cpu_seconds();
    for (size_t i = 0; i < count; ++i) {
        const size_t n = i % kLogins;
        const RelayAttempt attempt{w.logins[n], limits, ClientKey::of(w.login_client[n]), i % 4 == 0,
                                   kT0 + static_cast<Microseconds>(i), 3600};
        sink += static_cast<size_t>(store.relay(attempt).outcome);
    }
    ns[2] = (thread_cpu_seconds() - start) * 1e9 / double(count);
    if (sink == 42) std::printf(" ");  // keeps the loops from being optimised away
    return ns;
}

// The control for the scaling figures: only the store's shard locks, no store. Each thread locks
// and unlocks the shard mutex its logins map to (1024 mutexes, one cache line each), as relay()
// does, and nothing else. CPU ns per lock and unlock; the rise from 1 to 2 threads is the cost of
// a lock's cache line moving between the cores, which no sharding of shared logins avoids.
double lock_control(const Workload& w, int threads, size_t total) {
    struct alignas(64) Padded {
        std::mutex mutex;
    };
    std::vector<Padded> locks(1024);
    std::vector<uint64_t> ids;
    for (const std::string& login : w.logins) ids.push_back(login_id(login));
    const size_t each = total / static_cast<size_t>(threads);
    std::vector<double> cpu(static_cast<size_t>(threads));
    std::vector<std::thread> running;
    for (size_t t = 0; t < static_cast<size_t>(threads); ++t) {
        running.emplace_back([&, t] {
            const double start = thread_cpu_seconds();
            for (size_t i = 0; i < each; ++i) {
                const uint64_t id = ids[(t + i * static_cast<size_t>(threads)) % kLogins];
                std::lock_guard lock(locks[(id ^ (id >> 32)) % locks.size()].mutex);
            }
            cpu[t] = thread_cpu_seconds() - start;
        });
    }
    for (auto& t : running) t.join();
    double sum = 0;
    for (double c : cpu) sum += c;
    return sum * 1e9 / double(each * static_cast<size_t>(threads));
}

void decision_figures(bool quick) {
    const int rounds = quick ? 3 : 9;
    const size_t total = quick ? 240'000 : 960'000;  // decisions per run, shared by its threads
    const unsigned cores = std::thread::hardware_concurrency();
    Workload w;
    for (size_t i = 0; i < kLogins; ++i) {
        w.logins.push_back("user" + std::to_string(i) + "@example.com");
        w.login_client.push_back(IpAddress::from_v4(0xcb007100u + static_cast<uint32_t>(i)));  // from 203.0.113.0
    }
    for (uint32_t t = 0; t < 8; ++t) w.thread_client.push_back(IpAddress::from_v4(0xc6336400u + t));  // 198.51.100.x
    const auto plain = policy_from("local-domain = example.com\n");
    const auto limited = policy_from(std::string("local-domain = example.com\n") + kLimitKeys);

    // [hot][threads][limits on]: per round; ratio: per-round (with / without) of CPU per decision.
    std::vector<double> cpu[2][3][2], wall[2][3][2], ratio[2][3];
    long refused[2][3][2] = {};
    std::vector<double> part_ns[3], control_ns[2];
    for (int round = 0; round < rounds; ++round) {
        for (int hot = 0; hot < 2; ++hot) {
            for (size_t t = 0; t < 3; ++t) {
                Timing timing[2];
                for (int k = 0; k < 2; ++k) {
                    const int on = (round + k) % 2;  // which goes first alternates by round
                    timing[on] = run(on ? *limited : *plain, w, kThreadCounts[t], total, hot, refused[hot][t][on]);
                    cpu[hot][t][on].push_back(timing[on].cpu * 1e9 / double(total));
                    wall[hot][t][on].push_back(timing[on].wall);
                }
                ratio[hot][t].push_back(timing[1].cpu / timing[0].cpu);
            }
        }
        const auto p = parts(*limited, w, total);
        for (size_t i = 0; i < 3; ++i) part_ns[i].push_back(p[i]);
        for (size_t t = 0; t < 2; ++t) control_ns[t].push_back(lock_control(w, kThreadCounts[t], total));
    }

    std::printf("limits_bench part 1: one relay decision for an authenticated client (recipient parsed,\n"
                "local-domain check, no nets), without limit keys and with all three (recipients 1000000/1h,\n"
                "messages 1000000/1h, clients 16/1d), memory store. %zu decisions per run shared by its\n"
                "threads, a fresh store per run after one untimed decision per login; without and with\n"
                "interleaved over %d rounds; medians. ns = CPU time per decision (all threads' CPU clocks /\n"
                "decisions: not inflated by other processes or by threads waiting for a core); Mdec/s = all\n"
                "threads' decisions per wall second. This machine has %u cores: at 8 threads, 4 share a core.\n\n",
                total, rounds, cores);
    std::printf("%-25s %7s %9s %9s %7s %10s %10s %8s %9s\n", "logins", "threads", "ns w/o", "ns with", "ratio",
                "Mdec/s w/o", "Mdec/s w/", "scaling", "refused");
    for (int hot = 0; hot < 2; ++hot) {
        for (size_t t = 0; t < 3; ++t) {
            const double off = median(wall[hot][t][0]), on = median(wall[hot][t][1]);
            std::printf("%-25s %7d %9.1f %9.1f %7.2f %10.2f %10.2f %7.2fx %4ld/%ld\n",
                        hot ? "1 hot login, all threads" : "10,000 split by thread", kThreadCounts[t],
                        median(cpu[hot][t][0]), median(cpu[hot][t][1]), median(ratio[hot][t]), double(total) / off / 1e6,
                        double(total) / on / 1e6, median(wall[hot][0][1]) / on, refused[hot][t][0], refused[hot][t][1]);
        }
    }
    std::printf("\nratio = median of per-round (with / without), CPU per decision; target <= 2 single-threaded.\n"
                "scaling = with limits, decisions per wall second at N threads / at 1 thread (at most %u here).\n"
                "refused = decisions not accepted, without/with limits, over all rounds (want 0).\n",
                cores);
    std::printf("\nparts of a limited decision, one thread, 10,000 logins (CPU ns per call, medians):\n"
                "  limits lookup (LimitTable::lookup)                     %6.1f\n"
                "  login_id (the store's key: the login hashed, lowered)  %6.1f\n"
                "  MemoryStore::relay called directly (login_id included) %6.1f\n",
                median(part_ns[0]), median(part_ns[1]), median(part_ns[2]));
    std::printf("\ncontrol: the shard locks alone (lock and unlock, 10,000 logins over 1024 shards), CPU ns each:\n"
                "  1 thread %.1f, 2 threads %.1f (the difference: a lock's cache line moving between cores)\n",
                median(control_ns[0]), median(control_ns[1]));
}

// VmRSS of this process, in bytes.
long rss_bytes() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) * 1024;
    }
    return -1;
}

long heap_bytes() { return static_cast<long>(mallinfo2().uordblks); }

// In a child process, so each variant starts from a fresh heap: tracks `logins` logins, each
// relaying one recipient from each of `clients` addresses, then expires them. Prints one block;
// returns bytes per login by RSS and by malloc (zeros if the child failed).
std::array<double, 2> memory_variant(size_t logins, int clients) {
    std::array<double, 2> per_login{};
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return per_login;
    std::fflush(stdout);
    const pid_t child = fork();
    if (child != 0) {
        close(pipe_fds[1]);
        if (read(pipe_fds[0], per_login.data(), sizeof per_login) != sizeof per_login) per_login = {};
        close(pipe_fds[0]);
        int status = 0;
        waitpid(child, &status, 0);
        return per_login;
    }
    close(pipe_fds[0]);
    LoginLimits limits;  // a submission server's: the client window (1d) decides when a login is idle
    limits.recipients = Rate{500, 3600};
    limits.messages = Rate{100, 3600};
    limits.clients = Rate{10, 86400};
    auto store = std::make_unique<MemoryStore>();
    const long rss0 = rss_bytes(), heap0 = heap_bytes();
    char login[40];
    long refused = 0;
    for (size_t i = 0; i < logins; ++i) {
        const int length = std::snprintf(login, sizeof login, "user%07zu@example.com", i);  // 23 characters
        for (int c = 0; c < clients; ++c) {
            const auto address = IpAddress::from_v4(0x0a000000u + static_cast<uint32_t>(i * 4 + static_cast<size_t>(c)));
            const RelayAttempt attempt{std::string_view(login, static_cast<size_t>(length)), limits, ClientKey::of(address),
                                       c == 0, kT0 + static_cast<Microseconds>(i), 3600};
            refused += store->relay(attempt).outcome != RelayCount::Outcome::allowed;
        }
    }
    const long rss1 = rss_bytes(), heap1 = heap_bytes();
    const double n = double(logins);
    std::printf("%d client address%s per login: %zu logins tracked (%ld refused); RSS %.1f -> %.1f MiB: "
                "%.1f bytes/login (malloc'd %.1f)\n",
                clients, clients == 1 ? "" : "es", store->logins(), refused, double(rss0) / 1048576, double(rss1) / 1048576,
                double(rss1 - rss0) / n, double(heap1 - heap0) / n);
    auto start = Clock::now();
    store->expire(kT0 + 86399 * kSecond);  // a day less a second: every client is still in its window
    const double scan_ms = seconds_since(start) * 1e3;
    std::printf("    expire at t0+1d-1s: %zu logins left (a pass over all of them: %.1f ms)\n", store->logins(), scan_ms);
    store->expire(kT0 + 86402 * kSecond);  // past the last client's window: a full burst allowed again
    std::printf("    expire at t0+1d+2s: %zu logins left; RSS %.1f MiB, malloc'd %.1f MiB above the start\n",
                store->logins(), double(rss_bytes()) / 1048576, double(heap_bytes() - heap0) / 1048576);
    malloc_trim(0);  // what the allocator could hand back to the system (the daemon does not call it)
    std::printf("    after malloc_trim(0): RSS %.1f MiB\n", double(rss_bytes()) / 1048576);
    store.reset();
    std::printf("    store destroyed: RSS %.1f MiB, malloc'd %.1f MiB above the start\n",
                double(rss_bytes()) / 1048576, double(heap_bytes() - heap0) / 1048576);
    std::fflush(stdout);
    per_login = {double(rss1 - rss0) / n, double(heap1 - heap0) / n};
    const bool sent = write(pipe_fds[1], per_login.data(), sizeof per_login) == sizeof per_login;
    _exit(sent ? 0 : 1);
}

}  // namespace

int main(int argc, char** argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    decision_figures(quick);
    const size_t logins = quick ? 200'000 : 1'000'000;
    std::printf("\nlimits_bench part 2: the memory store with %zu distinct logins (23 characters), each relaying one\n"
                "recipient from each of its client addresses (limits recipients 500/1h, messages 100/1h,\n"
                "clients 10/1d). RSS from /proc/self/status VmRSS; malloc'd from mallinfo2. Target: at most\n"
                "256 bytes per tracked login plus 24 per remembered client address (280 with 1, 352 with 4).\n\n",
                logins);
    const auto one = memory_variant(logins, 1);
    const auto four = memory_variant(logins, 4);
    // Split into a cost per login and one per address: the slope between the two variants.
    const double address_rss = (four[0] - one[0]) / 3, address_heap = (four[1] - one[1]) / 3;
    std::printf("\nper remembered client address (4 addresses - 1, / 3): %.1f bytes by RSS, %.1f malloc'd (target <= 24)\n"
                "per tracked login, its first address taken off: %.1f bytes by RSS, %.1f malloc'd (target <= 256)\n",
                address_rss, address_heap, one[0] - address_rss, one[1] - address_heap);
    return 0;
}
