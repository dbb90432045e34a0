// explain: the --explain answer for one recipient, in words an admin can act on:
//   REJECT <user@example.net> rule=default reply="550 5.7.1 Relaying prohibited" why="..."
// It names the conf line of the entry the policy reported as the match.
// Offline only: the daemon logs decisions, it does not explain them.
#pragma once

#include <string>
#include <string_view>

#include "conf.hpp"
#include "policy.hpp"

namespace relaymilter {

[[nodiscard]] std::string explain(const Conf& conf, const Policy& policy, const Client& client,
                                  std::string_view recipient);


}  // namespace relaymilter
