// callbacks: the libmilter side of relaymilter. Each xxfi_ callback turns libmilter's arguments
// and macros into plain values for the policy, and one function turns a decision into SMFIS_*
// plus smfi_setreply. No policy logic here, and no exception crosses into libmilter: any
// failure gives SMFIS_TEMPFAIL and a log line (a relay filter that fails open is an open relay).
#pragma once

#include <libmilter/mfapi.h>

#include "limit_store.hpp"
#include "live_policy.hpp"
#include "metrics.hpp"

namespace relaymilter {

// lean: skip every step the policy does not need and send no reply to connect and MAIL.
// full: ask the MTA for every step and answer each, as a milter that does not negotiate.
enum class Protocol { lean, full };

// What the callbacks decide with and report to.
struct CallbackContext {
    const LivePolicy& live;           // the policy in force
    LimitStore& store;                // the login limits' counters, kept across reloads
    Metrics* metrics = nullptr;       // null: no metrics
    Protocol protocol = Protocol::lean;
};

// The callback stages, as log lines and relaymilter_callback_errors_total{stage} name them.
inline constexpr const char* kCallbackStages[] = {"negotiate", "connect", "mail", "rcpt", "eom"};

// Binds the callbacks to `context` (for the whole process: libmilter gives callbacks no context
// of ours) and returns the filter description to hand to smfi_register.
[[nodiscard]] smfiDesc bind_callbacks(const CallbackContext& context);

}  // namespace relaymilter
