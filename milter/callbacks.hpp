// callbacks: the libmilter side of relaymilter. Each xxfi_ callback turns libmilter's arguments
// and macros into plain values for the policy, and one function turns a decision into SMFIS_*
// plus smfi_setreply. No policy logic here, and no exception crosses into libmilter: any
// failure gives SMFIS_TEMPFAIL and a log line (a relay filter that fails open is an open relay).
#pragma once

#include <libmilter/mfapi.h>

#include "limit_store.hpp"
#include "live_policy.hpp"

namespace relaymilter {

// lean: skip every step the policy does not need and send no reply to connect and MAIL.
// full: ask the MTA for every step and answer each, as a milter that does not negotiate.
enum class Protocol { lean, full };

// Binds the callbacks to the policy in force and the login-limits store (for the whole process:
// libmilter gives callbacks no context of ours), and returns the filter description to hand to
// smfi_register.
[[nodiscard]] smfiDesc bind_callbacks(const LivePolicy& live, LimitStore& store, Protocol protocol = Protocol::lean);

}  // namespace relaymilter
