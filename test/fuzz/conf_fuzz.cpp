// conf_fuzz: libFuzzer target for the conf parser and the policy built from it. Beyond not
// crashing: every error names a line inside the input (or 0 for the whole file), a conf that
// parses builds a policy or says why, and nothing is accepted silently when there are errors.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "policy.hpp"

using namespace relaymilter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const ConfResult result = parse_conf(text, "fuzz.conf");
    const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
    for (const ConfError& e : result.errors) {
        if (e.line < 0 || e.line > lines || e.message.empty()) std::abort();
    }
    if (result.conf.has_value() == !result.errors.empty()) std::abort();
    if (!result.conf) return 0;
    std::vector<ConfError> errors;
    auto policy = Policy::build(*result.conf, errors);
    if (!policy && errors.empty()) std::abort();
    if (policy) {
        (void)policy->decide(Client{IpAddress::parse("192.0.2.1"), IpAddress::parse("192.0.2.2"), "u"}, "<x@example.com>");
    }
    return 0;
}
