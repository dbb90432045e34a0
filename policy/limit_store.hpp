// limit_store: the counters behind the login limits, and the one call that checks and counts a
// relay atomically: per login a leaky bucket for recipients and one for messages, the client
// addresses it relayed from, and its lock. The memory store keeps them in this process (sharded,
// one lock per shard, never a global one); the Redis store (milter/) shares them across hosts.
// Time comes in with each call; nothing here reads the clock.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ip_address.hpp"
#include "limits.hpp"

namespace relaymilter {

// A client as the client limit counts it: an IPv4 address, or an IPv6 /64.
struct ClientKey {
    uint64_t high = 0;
    uint64_t low = 0;
    bool known = false;
    [[nodiscard]] static ClientKey of(const std::optional<IpAddress>& address);
    friend bool operator==(const ClientKey&, const ClientKey&) = default;
};

// One authenticated relay attempt, to be judged against the login's limits and counted.
struct RelayAttempt {
    std::string_view login;  // in any case: the stores key on login_id(login)
    const LoginLimits& limits;
    ClientKey client;
    bool new_message = false;  // the message's first relayed recipient: it counts a message too
    Microseconds now = 0;
    uint32_t lock_seconds = 3600;
};

struct RelayCount {
    enum class Outcome { allowed, recipient_limit, message_limit, locked, locked_now, unavailable };
    Outcome outcome = Outcome::unavailable;
    uint32_t clients = 0;         // locked_now: the distinct clients seen, this one included
    Microseconds locked_until = 0;
};

// What a login has used, for --explain.
struct LoginUse {
    double recipients = 0;  // in the bucket now (it drains at the limit's rate)
    double messages = 0;
    uint32_t clients = 0;
    Microseconds locked_until = 0;
};

class LimitStore {
public:
    virtual ~LimitStore() = default;
    // Checks the attempt against the limits and, when it is allowed, counts it; one atomic step.
    [[nodiscard]] virtual RelayCount relay(const RelayAttempt& attempt) = 0;
    // Forgets logins whose limits would allow a full burst again and that are not locked.
    virtual void expire(Microseconds now) = 0;
    [[nodiscard]] virtual std::optional<LoginUse> use(std::string_view login, const LoginLimits& limits,
                                                      Microseconds now) = 0;
    // Lifts a lock; false when the login was not locked.
    virtual bool unlock(std::string_view login) = 0;
};

class MemoryStore final : public LimitStore {
public:
    RelayCount relay(const RelayAttempt& attempt) override;
    void expire(Microseconds now) override;
    std::optional<LoginUse> use(std::string_view login, const LoginLimits& limits, Microseconds now) override;
    bool unlock(std::string_view login) override;
    [[nodiscard]] size_t logins() const;  // tracked now
    // Logins locked at `now`: cheap (a count kept beside the shards), for a metrics scrape.
    [[nodiscard]] size_t locked(Microseconds now) const;

private:
    struct Bucket {
        int64_t level = 0;  // in millionths of one recipient or message
        Microseconds updated = 0;
    };
    // A client address it relayed from: its ClientKey in 32-bit words and the second it was last
    // seen, rounded up (remembered a little longer, never shorter). 20 bytes: no 64-bit member
    // pads it to 24, so four fit one 96-byte malloc chunk.
    struct Seen {
        std::array<uint32_t, 4> key;
        uint32_t last_second;
    };
    struct Entry {
        Bucket recipients;
        Bucket messages;
        Microseconds locked_until = 0;
        Microseconds idle_at = 0;  // when its limits would allow a full burst again
        std::vector<Seen> clients;
    };
    // A cache line each: threads working on different shards never write the same line.
    struct alignas(64) Shard {
        mutable std::mutex mutex;
        std::unordered_map<uint64_t, Entry> entries;  // by login_id()
    };
    static Seen seen(const ClientKey& client, Microseconds now);
    static Microseconds seen_at(const Seen& s);  // when it was last seen (to the second, rounded up)
    static constexpr size_t kShards = 1024;
    Shard& shard_of(uint64_t login);
    void lock_made(Microseconds until);
    void lock_lifted(Microseconds until);

    std::array<Shard, kShards> shards_;
    mutable std::mutex locks_mutex_;
    mutable std::multiset<Microseconds> lock_ends_;  // when each lock in force ends
};

}  // namespace relaymilter
