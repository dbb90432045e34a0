// live_policy: the policy in force, swapped whole on reload while sessions keep deciding.
// A session holds its own reference and checks one atomic version number per decision; only
// when a reload happened does it take the short lock to pick up the new policy. No decision
// waits for a reload, and an old policy lives until the last session that holds it lets go.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "policy.hpp"

namespace relaymilter {

class LivePolicy {
public:
    explicit LivePolicy(std::shared_ptr<const Policy> policy) : current_(std::move(policy)) {}

    // Makes `policy` the one every later decision uses.
    void replace(std::shared_ptr<const Policy> policy) {
        std::lock_guard lock(mutex_);
        current_ = std::move(policy);
        version_.fetch_add(1, std::memory_order_release);
    }

    // Brings a session's `held` policy up to date; cheap when nothing changed.
    void refresh(std::shared_ptr<const Policy>& held, uint64_t& held_version) const {
        const uint64_t now = version_.load(std::memory_order_acquire);
        if (held && held_version == now) return;
        std::lock_guard lock(mutex_);
        held = current_;
        held_version = version_.load(std::memory_order_relaxed);
    }

    [[nodiscard]] std::shared_ptr<const Policy> current() const {
        std::lock_guard lock(mutex_);
        return current_;
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const Policy> current_;
    std::atomic<uint64_t> version_{1};
};

}  // namespace relaymilter
