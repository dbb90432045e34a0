// net_fuzz: libFuzzer target for the NET parser. Beyond not crashing: a net that parses prints
// itself in a form that parses back to the same net, contains its own first and last address,
// and matches an address exactly when address AND mask == network.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "net.hpp"

using namespace relaymilter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = Net::parse(text);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        if (error->empty()) std::abort();  // every refusal says why
        return 0;
    }
    const Net& net = std::get<Net>(parsed);
    auto again = Net::parse(net.to_string());
    const Net* back = std::get_if<Net>(&again);
    if (!back || back->network() != net.network() || back->mask() != net.mask()) std::abort();
    if (!net.contains(IpAddress::from_bits(net.network()))) std::abort();
    if (net.is_prefix() && !net.contains(IpAddress::from_bits(net.last()))) std::abort();
    return 0;
}
