// net: parsing of NET rules with errors that say what was probably meant, as Postfix's
// cidr_match does ("host bits set; did you mean 10.0.0.0/8?"). Nothing is clamped silently.
#include "net.hpp"

#include <charconv>

namespace relaymilter {

namespace {

constexpr uint128 kAllOnes = ~static_cast<uint128>(0);

uint128 prefix_mask(unsigned bits) {  // the top `bits` of 128 set
    return bits == 0 ? 0 : kAllOnes << (128 - bits);
}

}  // namespace

bool Net::is_prefix() const {
    uint128 inverted = ~mask_;
    return (inverted & (inverted + 1)) == 0;  // inverted mask is 0...01...1
}

bool Net::covers_all_v4() const {
    // A non-contiguous mask has bits in the IPv4 part, so it never covers all of it.
    return is_prefix() && first() <= kV4MappedBase && last() >= (kV4MappedBase | 0xffffffffu);
}

std::string Net::to_string() const {
    const IpAddress address = IpAddress::from_bits(network_);
    const bool v4 = address.is_v4() && (mask_ >> 32) == (kAllOnes >> 32);
    if (v4 && !is_prefix()) return address.to_string() + ";" + IpAddress::from_v4(static_cast<uint32_t>(mask_)).to_string();
    unsigned length = 0;
    for (uint128 m = mask_; m != 0; m <<= 1) ++length;
    std::string text = address.to_string();
    if (v4) return length == 128 ? text : text + "/" + std::to_string(length - 96);
    if (address.is_v4()) text = "::ffff:" + text;
    return length == 128 ? text : text + "/" + std::to_string(length);
}

std::variant<Net, std::string> Net::parse(std::string_view text) {
    if (text.empty()) return std::string("empty network");

    if (auto semi = text.find(';'); semi != std::string_view::npos) {
        std::string_view addr_text = text.substr(0, semi);
        std::string_view mask_text = text.substr(semi + 1);
        auto addr = IpAddress::parse(addr_text);
        auto mask = IpAddress::parse(mask_text);
        if (!addr || !addr->is_v4() || addr_text.find(':') != std::string_view::npos) {
            return std::string(text) + ": the net;mask form takes an IPv4 network, e.g. "
                   "192.168.1.0;255.255.255.0 (write IPv6 as 2001:db8::/32)";
        }
        if (!mask || !mask->is_v4() || mask_text.find(':') != std::string_view::npos) {
            return std::string(text) + ": '" + std::string(mask_text) +
                   "' is not an IPv4 mask such as 255.255.255.0";
        }
        uint128 full_mask = prefix_mask(96) | mask->v4();
        Net net(addr->bits(), full_mask);
        if ((addr->bits() & ~full_mask) != 0) {
            IpAddress fixed = IpAddress::from_bits(addr->bits() & full_mask);
            return std::string(text) + ": host bits set; did you mean " + fixed.to_string() + ";" +
                   std::string(mask_text) + "?";
        }
        return net;
    }

    std::string_view addr_text = text;
    std::string_view length_text;
    bool has_length = false;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        addr_text = text.substr(0, slash);
        length_text = text.substr(slash + 1);
        has_length = true;
    }
    auto addr = IpAddress::parse(addr_text);
    if (!addr) {
        return std::string(text) + ": '" + std::string(addr_text) +
               "' is not an IPv4 or IPv6 address (write all four IPv4 parts, e.g. 10.0.0.0/8)";
    }
    const bool written_v4 = addr_text.find(':') == std::string_view::npos;
    const unsigned max_length = written_v4 ? 32 : 128;
    unsigned length = max_length;
    if (has_length) {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(length_text.data(), length_text.data() + length_text.size(), value);
        if (length_text.empty() || length_text.size() > 3 || ec != std::errc() ||
            end != length_text.data() + length_text.size() || value > max_length) {
            return std::string(text) + ": prefix length must be a number from 0 to " +
                   std::to_string(max_length);
        }
        length = value;
    }
    uint128 mask = prefix_mask(written_v4 ? 96 + length : length);
    if ((addr->bits() & ~mask) != 0) {
        IpAddress fixed = IpAddress::from_bits(addr->bits() & mask);
        std::string fixed_text = fixed.to_string();
        if (!written_v4 && fixed.is_v4()) fixed_text = "::ffff:" + fixed_text;  // keep their spelling
        return std::string(text) + ": host bits set; did you mean " + fixed_text + "/" +
               std::to_string(length) + "?";
    }
    return Net(addr->bits(), mask);
}

}  // namespace relaymilter
