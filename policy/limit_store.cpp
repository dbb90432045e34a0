// limit_store: the memory store. A rate N/PERIOD is a leaky bucket of N: each relay adds one,
// and it drains at N per PERIOD (GCRA, as redis-cell and rspamd do it, kept as a level rather than
// a time so that a changed rate judges the same use: 40 used of 50 stays 40 when the limit drops
// to 30). So a login may send N at once, then one more every PERIOD/N, never more than N within
// a short time; in the worst case a window of one PERIOD sees 2N-1 (a full burst, then the refill).
#include "limit_store.hpp"

#include <algorithm>
#include <cstdint>

namespace relaymilter {

namespace {

constexpr int64_t kOne = 1'000'000;  // one recipient or message in a bucket's level

// a * b / c for a, b >= 0 and c > 0, in 64 bits when a * b fits (nearly always: a 128-bit
// division is a library call, several times dearer, and a decision makes up to four of these).
int64_t mul_div(int64_t a, int64_t b, int64_t c) {
    int64_t product = 0;
    if (!__builtin_mul_overflow(a, b, &product)) return product / c;
    const __int128 wide = static_cast<__int128>(a) * b / c;
    return wide > INT64_MAX ? INT64_MAX : static_cast<int64_t>(wide);
}

// The level of a bucket at `now`, drained at `rate` since it was last counted.
int64_t drained(int64_t level, Microseconds updated, const Rate& rate, Microseconds now) {
    if (now <= updated || level <= 0) return std::max<int64_t>(level, 0);
    const int64_t drain = mul_div(now - updated, rate.count, rate.period_seconds);
    return drain >= level ? 0 : level - drain;
}

// When a bucket at `level` is empty again.
Microseconds empty_at(int64_t level, Microseconds now, const Rate& rate) {
    if (level <= 0) return now;
    const int64_t wait = mul_div(level, rate.period_seconds, rate.count);
    return wait >= INT64_MAX - 1 - now ? INT64_MAX : now + wait + 1;
}

}  // namespace

MemoryStore::Seen MemoryStore::seen(const ClientKey& client, Microseconds now) {
    return {{static_cast<uint32_t>(client.high >> 32), static_cast<uint32_t>(client.high),
             static_cast<uint32_t>(client.low >> 32), static_cast<uint32_t>(client.low)},
            static_cast<uint32_t>((now + kSecond - 1) / kSecond)};
}

Microseconds MemoryStore::seen_at(const Seen& s) { return static_cast<Microseconds>(s.last_second) * kSecond; }

ClientKey ClientKey::of(const std::optional<IpAddress>& address) {
    if (!address) return {};
    const uint128 bits = address->bits();
    ClientKey key{static_cast<uint64_t>(bits >> 64), static_cast<uint64_t>(bits), true};
    if (!address->is_v4()) key.low = 0;  // an IPv6 client counts per /64
    return key;
}

MemoryStore::Shard& MemoryStore::shard_of(uint64_t login) {
    return shards_[(login ^ (login >> 32)) % kShards];  // the map's buckets take the low bits
}

RelayCount MemoryStore::relay(const RelayAttempt& a) {
    const uint64_t id = login_id(a.login);
    Shard& shard = shard_of(id);
    std::lock_guard lock(shard.mutex);
    Entry& e = shard.entries[id];
    if (e.locked_until > a.now) return {RelayCount::Outcome::locked, 0, e.locked_until};

    if (a.limits.clients && a.client.known) {
        const Microseconds window = static_cast<Microseconds>(a.limits.clients->period_seconds) * kSecond;
        std::erase_if(e.clients, [&](const Seen& s) { return seen_at(s) + window <= a.now; });
        const Seen client = seen(a.client, a.now);
        auto it_seen = std::find_if(e.clients.begin(), e.clients.end(), [&](const Seen& s) { return s.key == client.key; });
        if (it_seen != e.clients.end()) {
            it_seen->last_second = client.last_second;
        } else if (e.clients.size() < a.limits.clients->count) {
            e.clients.push_back(client);
        } else {
            e.locked_until = a.now + static_cast<Microseconds>(a.lock_seconds) * kSecond;
            e.idle_at = std::max(e.idle_at, e.locked_until);
            lock_made(e.locked_until);
            return {RelayCount::Outcome::locked_now, static_cast<uint32_t>(e.clients.size() + 1), e.locked_until};
        }
    }

    const int64_t recipients =
        a.limits.recipients ? drained(e.recipients.level, e.recipients.updated, *a.limits.recipients, a.now) : 0;
    const int64_t messages = a.limits.messages ? drained(e.messages.level, e.messages.updated, *a.limits.messages, a.now) : 0;
    if (a.limits.recipients && recipients + kOne > int64_t{a.limits.recipients->count} * kOne) {
        return {RelayCount::Outcome::recipient_limit};
    }
    if (a.new_message && a.limits.messages && messages + kOne > int64_t{a.limits.messages->count} * kOne) {
        return {RelayCount::Outcome::message_limit};
    }
    Microseconds idle = e.locked_until;
    if (a.limits.recipients) {
        e.recipients = {recipients + kOne, a.now};
        idle = std::max(idle, empty_at(e.recipients.level, a.now, *a.limits.recipients));
    }
    if (a.limits.messages && a.new_message) {
        e.messages = {messages + kOne, a.now};
        idle = std::max(idle, empty_at(e.messages.level, a.now, *a.limits.messages));
    } else if (a.limits.messages) {
        idle = std::max(idle, empty_at(messages, a.now, *a.limits.messages));
    }
    if (a.limits.clients) {
        for (const Seen& s : e.clients) {
            idle = std::max(idle, seen_at(s) + static_cast<Microseconds>(a.limits.clients->period_seconds) * kSecond);
        }
    }
    e.idle_at = idle;
    return {RelayCount::Outcome::allowed};
}

void MemoryStore::expire(Microseconds now) {
    for (Shard& shard : shards_) {
        std::lock_guard lock(shard.mutex);
        std::erase_if(shard.entries, [now](const auto& item) { return item.second.idle_at <= now; });
    }
}

std::optional<LoginUse> MemoryStore::use(std::string_view login, const LoginLimits& limits, Microseconds now) {
    const uint64_t id = login_id(login);
    Shard& shard = shard_of(id);
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(id);
    if (it == shard.entries.end()) return LoginUse{};
    const Entry& e = it->second;
    LoginUse use;
    if (limits.recipients) use.recipients = double(drained(e.recipients.level, e.recipients.updated, *limits.recipients, now)) / kOne;
    if (limits.messages) use.messages = double(drained(e.messages.level, e.messages.updated, *limits.messages, now)) / kOne;
    use.clients = static_cast<uint32_t>(e.clients.size());
    use.locked_until = e.locked_until > now ? e.locked_until : 0;
    return use;
}

bool MemoryStore::unlock(std::string_view login) {
    const uint64_t id = login_id(login);
    Shard& shard = shard_of(id);
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(id);
    if (it == shard.entries.end() || it->second.locked_until == 0) return false;
    lock_lifted(it->second.locked_until);
    it->second.locked_until = 0;
    it->second.clients.clear();
    return true;
}

size_t MemoryStore::logins() const {
    size_t n = 0;
    for (const Shard& shard : shards_) {
        std::lock_guard lock(shard.mutex);
        n += shard.entries.size();
    }
    return n;
}

void MemoryStore::lock_made(Microseconds until) {
    std::lock_guard lock(locks_mutex_);
    lock_ends_.insert(until);
}

void MemoryStore::lock_lifted(Microseconds until) {
    std::lock_guard lock(locks_mutex_);
    if (auto it = lock_ends_.find(until); it != lock_ends_.end()) lock_ends_.erase(it);
}

size_t MemoryStore::locked(Microseconds now) const {
    std::lock_guard lock(locks_mutex_);
    lock_ends_.erase(lock_ends_.begin(), lock_ends_.upper_bound(now));
    return lock_ends_.size();
}

}  // namespace relaymilter
