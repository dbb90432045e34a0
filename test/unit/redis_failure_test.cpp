// Tests for milter/redis_store when Redis fails, against the real redis-server of
// test/e2e/redis_store_test.sh: no Redis at all, Redis killed (kill -9) mid-traffic and started
// again, Redis stalled by CLIENT PAUSE. The failure modes answer, one log line per state change.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>

#include "redis_test_lib.hpp"

using namespace redis_test;
using Outcome = RelayCount::Outcome;
using SteadyClock = std::chrono::steady_clock;

namespace {

LoginLimits generous() {
    LoginLimits limits;
    limits.recipients = Rate{1000000, 3600};
    return limits;
}

// Threads relaying through each store until stopped, counting outcomes and the longest call.
class Traffic {
public:
    explicit Traffic(std::vector<RedisStore*> stores, int threads_per_store = 2) : stores_(std::move(stores)) {
        for (size_t s = 0; s < stores_.size(); ++s) {
            for (int t = 0; t < threads_per_store; ++t) threads_.emplace_back([this, s, t] { run(s, t); });
        }
    }
    ~Traffic() { stop(); }
    void stop() {
        stop_ = true;
        for (auto& t : threads_) {
            if (t.joinable()) t.join();
        }
    }
    struct Counts {
        std::atomic<long> decisions{0}, unavailable{0}, refused{0}, over_2s{0};
        std::atomic<long> longest_us{0};
    };
    Counts& of(size_t store) { return counts_[store]; }

private:
    void run(size_t s, int t) {
        const LoginLimits limits = generous();
        for (long i = 0; !stop_; ++i) {
            const std::string login = "traffic" + std::to_string((i + t) % 20) + "@example.com";
            const auto start = SteadyClock::now();
            const Outcome o = stores_[s]->relay(RelayAttempt{login, limits, client("192.0.2.1"), i % 4 == 0, 0, 3600}).outcome;
            const long us = static_cast<long>(std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count());
            Counts& c = counts_[s];
            c.decisions++;
            c.unavailable += o == Outcome::unavailable;
            c.refused += o != Outcome::unavailable && o != Outcome::allowed;
            c.over_2s += us > 2 * kSecond;
            long seen = c.longest_us.load();
            while (us > seen && !c.longest_us.compare_exchange_weak(seen, us)) {
            }
        }
    }
    std::vector<RedisStore*> stores_;
    Counts counts_[4];
    std::atomic<bool> stop_{false};
    std::vector<std::thread> threads_;
};

bool redis_answers(int port) {
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port, timeval{1, 0});
    bool ok = c && !c->err;
    if (ok) {
        redisSetTimeout(c, timeval{1, 0});
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r) freeReplyObject(r);
    }
    if (c) redisFree(c);
    return ok;
}

}  // namespace

TEST_CASE("Redis store: no Redis at all: the failure mode answers, one log line, no attempt per recipient", "[redis][failure]") {
    const StoreAddress nowhere = tcp(env_port("RELAYMILTER_REDIS_DEAD_PORT"));
    LoginLimits limits;
    limits.recipients = Rate{10, 3600};
    SECTION("tempfail") {
        Lines lines;
        RedisStoreOptions options = steady_options(lines, StoreFailure::tempfail, 100'000);
        RedisStore store(nowhere, options);
        int unavailable = 0;
        for (int i = 0; i < 1000; ++i) {
            unavailable += store.relay(RelayAttempt{"alice@example.com", limits, client("192.0.2.1"), false, 0, 3600}).outcome == Outcome::unavailable;
        }
        CHECK(unavailable == 1000);
        CHECK(lines.count("store: " + nowhere.display() + " down (Connection refused); authenticated relays get tempfail") == 1);
        CHECK_FALSE(store.up());
        CHECK(store.fallbacks() == 1000);
        // Tried again at most every 250 ms at first: a handful of attempts, not 1000.
        CHECK(store.errors() <= 10);
        CHECK(store.last_error() == "Connection refused");
        CHECK_FALSE(store.use("alice@example.com", limits, 0));
        std::string why;
        CHECK_FALSE(store.unlock_shared("alice@example.com", why));
        CHECK(why.starts_with(nowhere.display() + ": "));
    }
    SECTION("local: the limits hold on this host") {
        Lines lines;
        RedisStore store(nowhere, steady_options(lines, StoreFailure::local, 100'000));
        int allowed = 0;
        for (int i = 0; i < 100; ++i) {
            allowed += store.relay(RelayAttempt{"alice@example.com", limits, client("192.0.2.1"), false,
                                                1'800'000'000 * kSecond, 3600}).outcome == Outcome::allowed;
        }
        CHECK(allowed == 10);
        CHECK(lines.count("down (Connection refused); counting locally") == 1);
        CHECK(lines.count("back") == 0);
    }
}

TEST_CASE("Redis store: Redis killed mid-traffic and started again", "[redis][failure][kill]") {
    const int port = env_port("RELAYMILTER_REDIS_PORT");
    Admin(port).command({"FLUSHALL"});
    Lines local_lines, tempfail_lines;
    // A timeout no busy machine reaches: here Redis fails by closing connections, not by stalling.
    RedisStore local(main_redis(), steady_options(local_lines, StoreFailure::local, 2 * kSecond));
    RedisStore tempfail(main_redis(), steady_options(tempfail_lines, StoreFailure::tempfail, 2 * kSecond));
    Traffic traffic({&local, &tempfail});
    // Both stores made `n` more decisions than at `mark`.
    auto mark = [&] { return std::pair<long, long>(traffic.of(0).decisions, traffic.of(1).decisions); };
    auto decided = [&](std::pair<long, long> since, long n) {
        return traffic.of(0).decisions >= since.first + n && traffic.of(1).decisions >= since.second + n;
    };
    REQUIRE(wait_until([&] { return decided({0, 0}, 200); }, 60) >= 0);
    CHECK(traffic.of(1).unavailable == 0);

    long pid = 0;
    std::ifstream(env("RELAYMILTER_REDIS_PIDFILE")) >> pid;
    REQUIRE(pid > 1);
    REQUIRE(kill(static_cast<pid_t>(pid), SIGKILL) == 0);
    REQUIRE(wait_until([&] { return !redis_answers(port); }, 20) >= 0);
    REQUIRE(wait_until([&] { return !local.up() && !tempfail.up(); }, 20) >= 0);
    const auto at_down = mark();
    REQUIRE(wait_until([&] { return decided(at_down, 200); }, 60) >= 0);
    CHECK(local.fallbacks() > 0);
    CHECK(traffic.of(1).unavailable > 0);

    const auto down_since = SteadyClock::now();
    REQUIRE(std::system(env("RELAYMILTER_REDIS_RESTART").c_str()) == 0);  // returns once it answers PING
    const auto restarted = SteadyClock::now();
    const double resumed = wait_until([&] { return local.up() && tempfail.up(); }, 20);
    CHECK(resumed >= 0);
    const auto at_back = mark();
    REQUIRE(wait_until([&] { return decided(at_back, 200); }, 60) >= 0);
    traffic.stop();
    const double down_seconds = std::chrono::duration<double>(restarted - down_since).count() + resumed;
    WARN("kill -9: back " << resumed << " s after the restarted Redis answered; " << local.errors()
         << " failed round trips, " << local.fallbacks() << " local decisions (local store), "
         << traffic.of(1).unavailable << " unavailable (tempfail store); longest call "
         << traffic.of(0).longest_us / 1000 << " ms");

    // Zero failed decisions with local: every one was allowed (the limit is far away).
    CHECK(traffic.of(0).unavailable == 0);
    CHECK(traffic.of(0).refused == 0);
    // Tried again with backoff while down, not once per recipient.
    CHECK(static_cast<double>(local.errors()) <= 8 + 4 * (down_seconds + 2));
    INFO(local_lines.all() << tempfail_lines.all());
    CHECK(local_lines.count("store: " + main_redis().display() + " down (") == 1);
    CHECK(local_lines.count("); counting locally") == 1);
    CHECK(local_lines.count("store: " + main_redis().display() + " back") == 1);
    CHECK(tempfail_lines.count(" down (") == 1);
    CHECK(tempfail_lines.count("); authenticated relays get tempfail") == 1);
    CHECK(tempfail_lines.count(" back") == 1);

    // Shared counting resumed: what one host counts, the other sees.
    LoginLimits three;
    three.recipients = Rate{3, 3600};
    for (int i = 0; i < 3; ++i) {
        CHECK(local.relay(RelayAttempt{"resume@example.com", three, client("192.0.2.1"), false, 0, 3600}).outcome == Outcome::allowed);
    }
    CHECK(tempfail.relay(RelayAttempt{"resume@example.com", three, client("192.0.2.1"), false, 0, 3600}).outcome == Outcome::recipient_limit);
}

TEST_CASE("Redis store: a stalled Redis (CLIENT PAUSE): no decision waits past the timeout", "[redis][failure][stall]") {
    const int port = env_port("RELAYMILTER_REDIS_PORT");
    Admin admin(port);
    admin.command({"FLUSHALL"});
    Lines local_lines, tempfail_lines;
    // The real default: 100 ms.
    RedisStore local(main_redis(), steady_options(local_lines, StoreFailure::local, kDefaultStoreTimeout));
    RedisStore tempfail(main_redis(), steady_options(tempfail_lines, StoreFailure::tempfail, kDefaultStoreTimeout));
    Traffic traffic({&local, &tempfail});
    REQUIRE(wait_until([&] { return traffic.of(0).decisions > 50 && traffic.of(1).decisions > 50; }, 60) >= 0);
    // Redis answers nobody for 4 s. Without the timeout, calls would wait those 4 s: the bound
    // asserted is 2 s, twenty times the timeout, so it tells a hang from a slow answer even when a
    // CPU hog delays a thread by a second. The measured longest call is printed beside it.
    REQUIRE(admin.text({"CLIENT", "PAUSE", "4000", "ALL"}) == "OK");
    const auto paused = SteadyClock::now();
    REQUIRE(wait_until([&] { return !local.up() && !tempfail.up(); }, 20) >= 0);
    // The thread that took a store down counts its answer only once relay() returns: wait for it
    // (a busy machine can deschedule it right after up() turned false).
    CHECK(wait_until([&] { return traffic.of(1).unavailable > 0 && local.fallbacks() > 0; }, 20) >= 0);
    const long unavailable_before = traffic.of(1).unavailable;
    admin.command({"PING"});  // answered once the pause is over
    const double pause_seconds = std::chrono::duration<double>(SteadyClock::now() - paused).count();
    CHECK(pause_seconds > 3.5);
    REQUIRE(wait_until([&] { return local.up() && tempfail.up(); }, 20) >= 0);
    traffic.stop();
    // Up again with no traffic left to change it (a relay lets a store that a late slow answer
    // took down again try once more).
    CHECK(wait_until([&] {
        for (RedisStore* s : {&local, &tempfail}) (void)s->relay(RelayAttempt{"x@example.com", generous(), client("192.0.2.1"), false, 0, 3600});
        return local.up() && tempfail.up();
    }, 20) >= 0);
    WARN("CLIENT PAUSE 4000: longest relay() call " << traffic.of(0).longest_us / 1000 << " ms (local), "
         << traffic.of(1).longest_us / 1000 << " ms (tempfail) with limits-store-timeout 100ms; "
         << local.fallbacks() << " local decisions, " << traffic.of(1).unavailable << " unavailable");
    CHECK(traffic.of(0).over_2s == 0);
    CHECK(traffic.of(1).over_2s == 0);
    // The failure mode applied while Redis stalled.
    CHECK(unavailable_before > 0);
    CHECK(local.fallbacks() > 0);
    CHECK(traffic.of(0).unavailable == 0);
    INFO(local_lines.all() << tempfail_lines.all());
    CHECK(local_lines.count(" down (no answer within 100ms); counting locally") >= 1);
    CHECK(tempfail_lines.count(" down (no answer within 100ms); authenticated relays get tempfail") >= 1);
    // Every down has its back (a busy machine may add a pair beside the pause).
    CHECK(local_lines.count(" back") == local_lines.count(" down ("));
    CHECK(tempfail_lines.count(" back") == tempfail_lines.count(" down ("));
}
