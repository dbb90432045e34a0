// open_relay: the check that no allow rule, alone or with the others of its kind, lets every
// address relay (an open relay); the conf reader runs it unless allow-open-relay = yes. The one
// place this is decided: the conf reports its errors, the policy trusts a checked conf.
#pragma once

#include <vector>

#include "conf.hpp"

namespace relaymilter {

// One error per kind (allow-net, internal-address) whose rules cover every IPv4 or every IPv6
// address: at the line of a rule that does so alone, else at the last rule of the kind.
[[nodiscard]] std::vector<ConfError> open_relay_problems(const Conf& conf);

}  // namespace relaymilter
