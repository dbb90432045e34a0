// recipient_fuzz: libFuzzer target for the recipient parser and the local-domain decision.
// Beyond not crashing: a domain it reports is canonical (canonicalising it again changes
// nothing), an address with routing is never local, and an address with any byte below 0x20
// is always routing.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy.hpp"

using namespace relaymilter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::shared_ptr<const Policy> policy = [] {
        std::vector<ConfError> errors;
        auto conf = parse_conf("local-domain = example.com\nlocal-domain = .example.net\nlocal-domain = [192.0.2.25]\n",
                               "fuzz.conf");
        return Policy::build(*conf.conf, errors);
    }();
    std::string_view text(reinterpret_cast<const char*>(data), size);
    const Recipient r = parse_recipient(text);
    if (!r.domain.empty()) {
        auto canonical = canonical_domain(r.domain);
        if (!canonical || *canonical != r.domain) std::abort();
    }
    const bool local = policy->is_local(r);
    if (!r.routing.empty() && local) std::abort();
    for (char c : text) {
        if (static_cast<unsigned char>(c) < 0x20 && r.routing.empty()) std::abort();
    }
    // From an outside client every non-local recipient is refused: never an accidental accept.
    const Decision d = policy->decide(Client{IpAddress::parse("203.0.113.9"), std::nullopt, ""}, r);
    if ((d.verdict == Verdict::accept) != local) std::abort();
    return 0;
}
