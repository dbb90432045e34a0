// Tests for policy/limit_store with an injected clock: bursts, the steady rate, window
// boundaries, a changed rate, the client limit and its lock, /64 grouping, expiry, and the
// check-and-count under many threads at once.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "limit_store.hpp"

using namespace relaymilter;

namespace {

constexpr Microseconds kT0 = 1'800'000'000 * kSecond;  // an arbitrary "now"

ClientKey client(const char* address) { return ClientKey::of(IpAddress::parse(address)); }

using Outcome = RelayCount::Outcome;

Outcome relay(LimitStore& store, const LoginLimits& limits, Microseconds now, const char* from = "192.0.2.1",
              bool new_message = false, std::string_view login = "alice@example.com") {
    return store.relay(RelayAttempt{login, limits, client(from), new_message, now, 3600}).outcome;
}

int allowed_in_a_row(LimitStore& store, const LoginLimits& limits, Microseconds now, int tries) {
    int n = 0;
    for (int i = 0; i < tries; ++i) n += relay(store, limits, now) == Outcome::allowed;
    return n;
}

}  // namespace

TEST_CASE("A recipient limit allows a burst of N, then N per period, and no 2N at a boundary", "[limit_store]") {
    MemoryStore store;
    LoginLimits limits;
    limits.recipients = Rate{60, 3600};  // 60/1h: one more each minute once used up
    CHECK(allowed_in_a_row(store, limits, kT0, 100) == 60);
    CHECK(relay(store, limits, kT0 + 59 * kSecond) == Outcome::recipient_limit);
    CHECK(relay(store, limits, kT0 + 60 * kSecond) == Outcome::allowed);   // one drained
    CHECK(relay(store, limits, kT0 + 61 * kSecond) == Outcome::recipient_limit);
    // A fixed window would allow 60 more at the top of the hour; this allows what drained.
    CHECK(allowed_in_a_row(store, limits, kT0 + 3600 * kSecond - 1, 100) == 58);
    // Steady: one a minute is always allowed.
    for (int m = 61; m < 200; ++m) CHECK(relay(store, limits, kT0 + Microseconds{m} * 60 * kSecond + 3600 * kSecond) == Outcome::allowed);
}

TEST_CASE("A changed limit judges the use so far by the new rate", "[limit_store]") {
    MemoryStore store;
    LoginLimits fifty;
    fifty.recipients = Rate{50, 3600};
    CHECK(allowed_in_a_row(store, fifty, kT0, 40) == 40);
    LoginLimits thirty;
    thirty.recipients = Rate{30, 3600};
    CHECK(relay(store, thirty, kT0) == Outcome::recipient_limit);  // 40 used of 30
    // It drains at 30/h: below 30 (29 used) after 11 recipients' worth, 22 minutes.
    CHECK(relay(store, thirty, kT0 + 21 * 60 * kSecond) == Outcome::recipient_limit);
    CHECK(relay(store, thirty, kT0 + 22 * 60 * kSecond + kSecond) == Outcome::allowed);
}

TEST_CASE("A message counts once, with its first relayed recipient", "[limit_store]") {
    MemoryStore store;
    LoginLimits limits;
    limits.messages = Rate{2, 3600};
    limits.recipients = Rate{100, 3600};
    CHECK(relay(store, limits, kT0, "192.0.2.1", true) == Outcome::allowed);
    CHECK(relay(store, limits, kT0, "192.0.2.1", false) == Outcome::allowed);
    CHECK(relay(store, limits, kT0, "192.0.2.1", true) == Outcome::allowed);
    CHECK(relay(store, limits, kT0, "192.0.2.1", true) == Outcome::message_limit);
    CHECK(relay(store, limits, kT0, "192.0.2.1", false) == Outcome::allowed);  // more recipients of message 2
    // A refused attempt counts nothing: the recipient bucket holds 4, not 5.
    REQUIRE(store.use("alice@example.com", limits, kT0));
    CHECK(store.use("alice@example.com", limits, kT0)->recipients == Approx(4));
    CHECK(store.use("alice@example.com", limits, kT0)->messages == Approx(2));
}

TEST_CASE("The N+1th client address locks the login until the lock time passes", "[limit_store]") {
    MemoryStore store;
    LoginLimits limits;
    limits.clients = Rate{3, 3600};
    CHECK(relay(store, limits, kT0, "192.0.2.1") == Outcome::allowed);
    CHECK(relay(store, limits, kT0, "192.0.2.2") == Outcome::allowed);
    CHECK(relay(store, limits, kT0, "2001:db8:1:2::1") == Outcome::allowed);
    CHECK(relay(store, limits, kT0, "2001:db8:1:2::99") == Outcome::allowed);  // the same /64
    CHECK(relay(store, limits, kT0, "192.0.2.1") == Outcome::allowed);         // seen before
    const RelayCount lock = store.relay(RelayAttempt{"alice@example.com", limits, client("203.0.113.9"), false, kT0 + kSecond, 3600});
    CHECK(lock.outcome == Outcome::locked_now);
    CHECK(lock.clients == 4);
    CHECK(lock.locked_until == kT0 + kSecond + 3600 * kSecond);
    CHECK(relay(store, limits, kT0 + 2 * kSecond, "192.0.2.1") == Outcome::locked);  // even from a known client
    CHECK(relay(store, limits, kT0 + 3600 * kSecond, "192.0.2.1") == Outcome::locked);
    CHECK(store.locked(kT0 + 3600 * kSecond) == 1);
    // After the lock, the addresses seen an hour ago have expired too.
    CHECK(relay(store, limits, kT0 + 3602 * kSecond, "198.51.100.1") == Outcome::allowed);
    CHECK(relay(store, limits, kT0 + 3602 * kSecond, "bob", false, "bob@example.com") == Outcome::allowed);
}

TEST_CASE("unlock lifts a lock; other logins never share a budget", "[limit_store]") {
    MemoryStore store;
    LoginLimits limits;
    limits.clients = Rate{1, 3600};
    limits.recipients = Rate{2, 3600};
    CHECK(relay(store, limits, kT0, "192.0.2.1") == Outcome::allowed);
    CHECK(relay(store, limits, kT0, "192.0.2.2") == Outcome::locked_now);
    CHECK(relay(store, limits, kT0, "192.0.2.1", false, "bob@example.com") == Outcome::allowed);
    CHECK(relay(store, limits, kT0, "192.0.2.1", false, "bob@example.com") == Outcome::allowed);
    CHECK(relay(store, limits, kT0, "192.0.2.1", false, "bob@example.com") == Outcome::recipient_limit);
    CHECK(store.unlock("alice@example.com"));
    CHECK_FALSE(store.unlock("alice@example.com"));
    CHECK(relay(store, limits, kT0, "192.0.2.2") == Outcome::allowed);
}

TEST_CASE("Idle logins are forgotten once their limits would allow a full burst again", "[limit_store]") {
    MemoryStore store;
    LoginLimits limits;
    limits.recipients = Rate{10, 600};
    for (int i = 0; i < 1000; ++i) {
        const std::string login = "user" + std::to_string(i) + "@example.com";
        CHECK(relay(store, limits, kT0, "192.0.2.1", false, login) == Outcome::allowed);
    }
    CHECK(store.logins() == 1000);
    store.expire(kT0 + 59 * kSecond);  // one of 10 drains in 60 s: not yet empty
    CHECK(store.logins() == 1000);
    store.expire(kT0 + 61 * kSecond);
    CHECK(store.logins() == 0);
}

TEST_CASE("Check and count are one step: 200 threads, a limit of 50, exactly 50 relayed", "[limit_store][concurrency]") {
    MemoryStore store;
    LoginLimits limits;
    limits.recipients = Rate{50, 3600};
    std::atomic<int> allowed{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 200; ++t) {
        threads.emplace_back([&] {
            while (!go.load()) std::this_thread::yield();
            for (int i = 0; i < 5; ++i) allowed += relay(store, limits, kT0) == Outcome::allowed;
        });
    }
    go = true;
    for (auto& t : threads) t.join();
    CHECK(allowed.load() == 50);
}
