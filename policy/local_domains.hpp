// local_domains: the domains whose recipients are delivered here, never relayed.
// "example.com" matches that domain only; ".example.com" matches every subdomain of it
// (not example.com itself); "[192.0.2.25]" matches that address literal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace relaymilter {

class LocalDomains {
public:
    // `entry` in canonical form (see canonical_domain), with a leading '.' for subdomains; entries
    // are numbered in the order added.
    void add(std::string entry);
    // The number of the entry that `domain` (canonical, as parse_recipient returns it) matches:
    // the exact name, else its nearest parent entry.
    [[nodiscard]] std::optional<uint32_t> find(std::string_view domain) const;
    [[nodiscard]] bool contains(std::string_view domain) const { return find(domain).has_value(); }
    [[nodiscard]] size_t size() const { return exact_.size() + parents_.size(); }
    [[nodiscard]] size_t bytes() const;

private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Set = std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>>;  // entry -> its number
    Set exact_;
    Set parents_;  // kept with their leading '.'
    uint32_t added_ = 0;
};

}  // namespace relaymilter
