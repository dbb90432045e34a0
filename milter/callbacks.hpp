// callbacks: the libmilter side of relaymilter. Each xxfi_ callback turns libmilter's arguments
// and macros into plain values for the policy, and one function turns a decision into SMFIS_*
// plus smfi_setreply. No policy logic here, and no exception crosses into libmilter: any
// failure gives SMFIS_TEMPFAIL and a log line (a relay filter that fails open is an open relay).
#pragma once

#include <libmilter/mfapi.h>

#include "live_policy.hpp"

namespace relaymilter {

// lean: skip every step the policy does not need and send no reply to connect and MAIL.
// full: ask the MTA for every step and answer each, as a milter that does not negotiate.
enum class Protocol { lean, full };

// The filter description to hand to smfi_register, deciding with `live`.
[[nodiscard]] smfiDesc milter_description(const LivePolicy& live, Protocol protocol = Protocol::lean);

}  // namespace relaymilter
