// recipient: what the relay decision needs from an envelope recipient as the MTA passes it
// ("<user@example.com>"): its domain, and whether it carries routing (%, !, @ in the local part,
// a source route) or is malformed, which makes it a relay attempt whatever its domain.
// Not a full RFC 5321 validator: the MTA judges syntax; this only decides what is surely local.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace relaymilter {

struct Recipient {
    // Lower-case, trailing dot removed, address literals canonical ("[192.0.2.1]",
    // "[ipv6:2001:db8::1]"); empty when the address has no domain ("<postmaster>").
    std::string domain;
    // Why the address is a relay attempt whatever its domain; empty when it carries no routing.
    std::string_view routing;
};

[[nodiscard]] Recipient parse_recipient(std::string_view text);

// "<addr>" for an address given with or without angle brackets, as logs and explain show it.
[[nodiscard]] std::string bracketed(std::string_view address);

// A domain or address literal in canonical form, or nullopt when it is not one. Shared by the
// conf's local-domain values and recipients, so both sides compare the same spelling.
[[nodiscard]] std::optional<std::string> canonical_domain(std::string_view text);

// An address literal as the MTAs treat one as their own: "[192.0.2.1]" (IPv4) or "[IPv6:2001:db8::1]"
// (tag in any case), canonical ("[192.0.2.1]", "[ipv6:2001:db8::1]"), or why it is not one. An IPv4
// literal only ever equals IPv4 literals, an IPv6 one IPv6 literals. Refused: an untagged IPv6
// literal (malformed, RFC 5321), and an IPv4-mapped IPv6 literal, on which the MTAs disagree
// (Sendmail does not take [IPv6:::ffff:127.0.0.1] for its own address and relays it). `why` gets
// the reason, phrased for "KEY: 'TEXT': why".
[[nodiscard]] std::optional<std::string> address_literal(std::string_view text, std::string& why);

}  // namespace relaymilter
